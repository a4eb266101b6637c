"""The desk's roles (viewer, trader, risk, admin) as Django groups with their
permissions; see xquant.roles."""

from django.db import migrations


def create_role_groups(apps, schema_editor):
    from xquant.roles import role_groups_sync

    role_groups_sync(apps)


def remove_role_groups(apps, schema_editor):
    from xquant.roles import ROLES

    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0007_activity_event"),
        ("prediction", "0002_candle_synthetic_kind_and_run_data"),
        ("exchanges", "0001_paper_exchange"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="order",
            options={
                "ordering": ["-created_at", "-id"],
                "permissions": [("cancel_order", "Can cancel orders")],
            },
        ),
        migrations.AlterModelOptions(
            name="risklimits",
            options={
                "permissions": [
                    ("read_desk", "Can see the desk: dashboard, API reads, live events"),
                    ("operate_kill_switch", "Can engage and release the kill switch"),
                ],
                "verbose_name": "risk limits",
                "verbose_name_plural": "risk limits",
            },
        ),
        migrations.RunPython(create_role_groups, remove_role_groups),
    ]
