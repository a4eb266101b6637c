from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from trading.notifications.delivery import url_is_valid
from trading.notifications.models import EventKind, NotificationTarget
from trading.notifications.services import notification_target_test


class NotificationTargetForm(forms.ModelForm):
    # Written, never shown again: the field renders empty, and empty keeps the saved URL.
    url = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"size": 80}),
        help_text=(
            "An apprise URL, e.g. json://host/path, slack://…, tgram://…, mailto://…. "
            "It holds credentials: once saved it is shown redacted only. "
            "Leave empty to keep the saved one."
        ),
    )
    kinds = forms.MultipleChoiceField(
        choices=EventKind.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = NotificationTarget
        fields = ["name", "url", "kinds", "enabled", "min_interval_seconds"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if not url:
            if self.instance.pk and self.instance.url:
                return self.instance.url
            raise forms.ValidationError("An apprise URL is required.")
        if not url_is_valid(url):
            # The value is not echoed back: it may hold a token.
            raise forms.ValidationError("This is not an apprise URL apprise can use.")
        return url


@admin.register(NotificationTarget)
class NotificationTargetAdmin(admin.ModelAdmin):
    form = NotificationTargetForm
    list_display = ["name", "redacted_url", "enabled", "kinds", "last_sent_at", "last_error"]
    list_filter = ["enabled"]
    readonly_fields = ["redacted_url", "last_sent_at", "last_error"]
    actions = ["send_test_message"]

    @admin.display(description="URL (redacted)")
    def redacted_url(self, obj: NotificationTarget) -> str:
        return obj.redacted_url if obj.pk else ""

    @admin.action(description="Send a test message")
    def send_test_message(self, request, queryset) -> None:
        for target in queryset:
            notification_target_test(target=target)
        self.message_user(
            request,
            f"Test message queued for {queryset.count()} target(s); a failure shows in "
            "their last error.",
            messages.SUCCESS,
        )
