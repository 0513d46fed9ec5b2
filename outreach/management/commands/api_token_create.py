"""manage.py api_token_create USERNAME --scopes a,b [--name N]: a new API token, printed once.

For automation (provisioning an integration without a browser). The token acts as that user with
that user's role, limited to the scopes; only its hash is stored, so the printed secret is the only
copy. Revoke it at Settings → API tokens."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from outreach.core.errors import ApplicationError
from outreach.integrations.models import ApiToken
from outreach.integrations.services.tokens import api_token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print it (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--scopes",
            required=True,
            help=f"Comma-separated, from: {', '.join(ApiToken.Scope.values)}.",
        )
        parser.add_argument("--name", default="automation", help="What the token is for (default: automation).")

    def handle(self, *args, username: str, scopes: str, name: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"{username} is inactive: a token of theirs would be refused.")
        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        try:
            created = api_token_create(user=user, name=name, scopes=wanted)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        # The secret alone on stdout, so `TOKEN=$(manage.py api_token_create …)` works; the rest on stderr.
        self.stderr.write(
            f"Token {created.token.prefix}… for {username} with {', '.join(created.token.scopes)}; "
            "this is the only time it is shown."
        )
        self.stdout.write(created.secret)
