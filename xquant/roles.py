"""The desk's roles: Django groups holding Django permissions.

- viewer: reads everything (dashboard, API reads, live events, admin in read-only),
  changes nothing;
- trader: viewer + manual orders and cancels, strategies (create, change, on/off,
  delete), backtests;
- risk: viewer + risk limits, the kill switch, futures settings;
- admin: every permission, users and roles included.

A person may hold several roles (groups). Every entry point checks the same permission
names below: DRF (xquant.api.permissions), the dashboard's views and templates
(`perms.trading.…`), the Channels consumers and the Django admin (model permissions).
The bearer API_TOKEN client gets the permissions of the role API_TOKEN_ROLE names.
The groups are created by a data migration (trading 0008) and kept in step by
`role_groups_sync`, which is idempotent.
"""

from __future__ import annotations

from typing import Any

VIEWER = "viewer"
TRADER = "trader"
RISK = "risk"
ADMIN = "admin"
ROLES = (VIEWER, TRADER, RISK, ADMIN)

#: Reading the desk at all: pages, API reads, websocket events.
READ_DESK = "trading.read_desk"
PLACE_ORDER = "trading.add_order"
CANCEL_ORDER = "trading.cancel_order"
ADD_STRATEGY = "trading.add_strategyconfig"
CHANGE_STRATEGY = "trading.change_strategyconfig"
DELETE_STRATEGY = "trading.delete_strategyconfig"
CHANGE_RISK_LIMITS = "trading.change_risklimits"
OPERATE_KILL_SWITCH = "trading.operate_kill_switch"
APPLY_FUTURES_SETTINGS = "trading.change_futuressettings"
RUN_BACKTEST = "prediction.add_backtestrun"
VIEW_AUDIT = "trading.view_auditevent"

#: Apps whose rows a viewer may see in the admin (view_* permissions).
VIEWABLE_APPS = ("trading", "prediction", "research", "exchanges")

ROLE_GRANTS: dict[str, tuple[str, ...]] = {
    VIEWER: (READ_DESK,),
    TRADER: (
        READ_DESK,
        PLACE_ORDER,
        CANCEL_ORDER,
        ADD_STRATEGY,
        CHANGE_STRATEGY,
        DELETE_STRATEGY,
        RUN_BACKTEST,
    ),
    RISK: (READ_DESK, CHANGE_RISK_LIMITS, OPERATE_KILL_SWITCH, APPLY_FUTURES_SETTINGS),
}


def role_groups_sync(apps: Any = None) -> None:
    """Create the role groups and give each exactly its permissions (idempotent).

    `apps` is the migration's app registry, or None for the project's."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    apps = apps or global_apps
    # Permissions are normally created after migrate (post_migrate): make them now.
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    every = Permission.objects.select_related("content_type")

    def named(names: tuple[str, ...]) -> list:
        wanted = {tuple(name.split(".", 1)) for name in names}
        found = [p for p in every if (p.content_type.app_label, p.codename) in wanted]
        if len(found) != len(wanted):
            missing = wanted - {(p.content_type.app_label, p.codename) for p in found}
            raise LookupError(f"permissions missing for the roles: {sorted(missing)}")
        return found

    viewing = [
        p
        for p in every
        if p.content_type.app_label in VIEWABLE_APPS and p.codename.startswith("view_")
    ]
    for role, grants in ROLE_GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([*named(grants), *viewing])
    admin, _ = Group.objects.get_or_create(name=ADMIN)
    admin.permissions.set(list(every))


def role_permissions(role: str) -> frozenset[str]:
    """The permission names ("app.codename") a role's group holds."""
    from django.contrib.auth.models import Permission

    rows = Permission.objects.filter(group__name=role).values_list(
        "content_type__app_label", "codename"
    )
    return frozenset(f"{app}.{codename}" for app, codename in rows)
