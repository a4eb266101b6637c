"""xQuant settings, read from the environment (django-environ).

Every variable has a documented default (docs/configuration.md) or fails at start
with ImproperlyConfigured naming it. The defaults describe the embedded mode: SQLite,
the paper exchange, no Redis, so a first `make run` needs no server.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
env_file = env.str("XQUANT_ENV_FILE", default=str(BASE_DIR / ".env"))
if Path(env_file).is_file():
    environ.Env.read_env(env_file, overwrite=False)

# --- deployment ---------------------------------------------------------------------
# "production" turns the safety checks below into hard failures.
XQUANT_ENV = env.str("XQUANT_ENV", default="development")
if XQUANT_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured(
        f"XQUANT_ENV must be one of development, production, test (got {XQUANT_ENV!r})"
    )
PRODUCTION = XQUANT_ENV == "production"

INSECURE_DEFAULT_SECRET_KEY = "django-insecure-xquant-development-only-do-not-deploy"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default="") or INSECURE_DEFAULT_SECRET_KEY
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

if PRODUCTION:
    # Django's deploy check wants 50 characters and 5 distinct ones; a random key of 50
    # has about 40 distinct characters, so fewer than 20 means it was typed, not drawn.
    if (
        SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY
        or SECRET_KEY.startswith("django-insecure")
        or len(SECRET_KEY) < 50
        or len(set(SECRET_KEY)) < 20
    ):
        raise ImproperlyConfigured(
            "SECRET_KEY must be a random value of at least 50 characters (at least 20 "
            'different ones) when XQUANT_ENV=production; e.g. python -c "import secrets; '
            'print(secrets.token_urlsafe(50))"'
        )
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off when XQUANT_ENV=production")
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    # TLS usually ends at a proxy in front of daphne: trust its X-Forwarded-Proto only
    # when told to. HTTPS only by default: plain HTTP is redirected (except the health
    # check, for load balancers) and browsers are told to remember it for a year.
    if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^api/health/?$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

# --- applications -------------------------------------------------------------------
INSTALLED_APPS = [
    "daphne",  # first, so runserver serves ASGI (websockets) too
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "channels",
    "django_celery_beat",
    "axes",
    "csp",
    "xquant",
    "exchanges",
    "trading",
    "prediction",
    "prediction.research",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "xquant.api.middleware.ApiBodySizeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout into its 429 response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "xquant.urls"
WSGI_APPLICATION = "xquant.wsgi.application"
ASGI_APPLICATION = "xquant.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- content security policy (django-csp) ---------------------------------------------
# Scripts only from this site's files (no inline script anywhere: data for scripts goes
# in json_script blocks, which do not run); sockets and fetches to this site only.
# Styles also inline: the chart library adds a <style> element and the pages set a
# few style attributes — far less dangerous than script. The browser test checks every
# page for violations.
from csp.constants import NONE, SELF, UNSAFE_INLINE  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- database -----------------------------------------------------------------------
# An empty value means the default too (a blank line in .env).
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{VAR_DIR / 'xquant.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # The embedded mode runs the web server and the trading loop in one process on
    # several threads: WAL lets readers proceed during a write, IMMEDIATE takes the
    # write lock up front so two writers queue instead of failing on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    # Each process holds at most DB_POOL_MAX_SIZE PostgreSQL connections (psycopg's pool,
    # which Django 5.2 manages): under daphne every request runs on a thread of its own,
    # and persistent per-thread connections piled up until PostgreSQL refused clients.
    # A thread returns its connection to the pool when its request ends; a long-lived
    # thread (the trader's tick, a Celery task) keeps one while it runs. 0 turns the
    # pool off: then DB_CONN_MAX_AGE applies (seconds a thread keeps its connection).
    DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=10)
    DB_POOL_TIMEOUT = env.float("DB_POOL_TIMEOUT", default=10.0)
    if DB_POOL_MAX_SIZE < 0 or DB_POOL_TIMEOUT <= 0:
        raise ImproperlyConfigured(
            "DB_POOL_MAX_SIZE must be 0 (no pool) or more, DB_POOL_TIMEOUT positive "
            f"(got {DB_POOL_MAX_SIZE}, {DB_POOL_TIMEOUT})"
        )
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "application_name": env.str("DB_APPLICATION_NAME", default="xquant"),
        # Parameters bound by PostgreSQL rather than spliced in by the driver: psycopg
        # then prepares a statement a connection runs often (the tick's reads and
        # writes), so PostgreSQL parses and plans it once per connection.
        "server_side_binding": env.bool("DB_SERVER_SIDE_BINDING", default=True),
    }
    # With the pool, Django has it check a connection whenever a thread takes one (once
    # per request, Celery task, trading round); without, before the first query after a
    # request or round.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DB_POOL_MAX_SIZE:
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections
        DATABASES["default"]["OPTIONS"]["pool"] = {
            # One connection until more are wanted at once: a single-threaded process
            # (a Celery worker, the trader's loop) always gets the same one back.
            "min_size": 1,
            "max_size": DB_POOL_MAX_SIZE,
            # A request waits this long for a free connection, then fails (503-like).
            "timeout": DB_POOL_TIMEOUT,
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis, channels, celery --------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNELS_PREFIX", "xquant")},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Apart from "xquant" only to keep two deployments on one Redis apart.
            "KEY_PREFIX": env.str("CACHE_PREFIX", default="xquant"),
        }
    }
else:
    # Embedded mode: the in-memory layer only reaches consumers in this process, which
    # is why `manage.py serve` runs the trading loop inside the web server process.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TRACK_STARTED = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- exchange -----------------------------------------------------------------------
EXCHANGE_CHOICES = ("paper", "dry-run", "binance")
USE_MOCK = env.bool("USE_MOCK", default=False)
EXCHANGE = "paper" if USE_MOCK else env.str("EXCHANGE", default="paper")
if EXCHANGE not in EXCHANGE_CHOICES:
    raise ImproperlyConfigured(
        f"EXCHANGE must be one of {', '.join(EXCHANGE_CHOICES)} (got {EXCHANGE!r})"
    )
EXCHANGE_API_KEY = env.str("EXCHANGE_API_KEY", default="")
EXCHANGE_API_SECRET = env.str("EXCHANGE_API_SECRET", default="")
EXCHANGE_BASE_URL = env.str("EXCHANGE_BASE_URL", default="")
EXCHANGE_TIMEOUT_SECONDS = env.float("EXCHANGE_TIMEOUT_SECONDS", default=10.0)
if EXCHANGE == "binance" and not (EXCHANGE_API_KEY and EXCHANGE_API_SECRET):
    raise ImproperlyConfigured("EXCHANGE=binance needs EXCHANGE_API_KEY and EXCHANGE_API_SECRET")
if EXCHANGE_TIMEOUT_SECONDS <= 0:
    raise ImproperlyConfigured(
        f"EXCHANGE_TIMEOUT_SECONDS must be positive (got {EXCHANGE_TIMEOUT_SECONDS})"
    )
# Request weight per minute the Binance connector allows itself, shared by every process
# through Redis when REDIS_URL is set. Binance bans an IP that goes over 2400.
EXCHANGE_WEIGHT_BUDGET = env.int("EXCHANGE_WEIGHT_BUDGET", default=2000)
if not 1 <= EXCHANGE_WEIGHT_BUDGET <= 2400:
    raise ImproperlyConfigured(
        f"EXCHANGE_WEIGHT_BUDGET must be between 1 and 2400 (got {EXCHANGE_WEIGHT_BUDGET})"
    )

# --- streams (issue 19: `manage.py runstreams`, trading.streams) ----------------------
# WebSocket base for the USD-M streams; empty: wss://fstream.binance.com/ws.
EXCHANGE_STREAM_URL = env.str("EXCHANGE_STREAM_URL", default="")
# A market stream silent this long, or a connection whose pongs stop, is reconnected.
STREAM_STALL_SECONDS = env.float("STREAM_STALL_SECONDS", default=30.0)
# The tick uses the streamed book while its stream showed life within this; else REST.
STREAM_BOOK_MAX_AGE_SECONDS = env.float("STREAM_BOOK_MAX_AGE_SECONDS", default=5.0)
# Listen-key keepalive (Binance expires a key not kept alive for 60 minutes).
STREAM_LISTEN_KEY_KEEPALIVE_SECONDS = env.float(
    "STREAM_LISTEN_KEY_KEEPALIVE_SECONDS", default=1200.0
)
# `manage.py serve` (make run) runs the streams in its process too.
STREAMS_EMBEDDED = env.bool("STREAMS_EMBEDDED", default=True)
for _name in ("STREAM_STALL_SECONDS", "STREAM_BOOK_MAX_AGE_SECONDS"):
    if globals()[_name] <= 0:
        raise ImproperlyConfigured(f"{_name} must be positive (got {globals()[_name]})")
if not 60 <= STREAM_LISTEN_KEY_KEEPALIVE_SECONDS <= 3000:
    raise ImproperlyConfigured(
        "STREAM_LISTEN_KEY_KEEPALIVE_SECONDS must be between 60 and 3000, well before the "
        f"key's 60 minutes (got {STREAM_LISTEN_KEY_KEEPALIVE_SECONDS})"
    )

# Paper exchange and offline market data.
PAPER_FEED = env.str("PAPER_FEED", default="synthetic")  # synthetic | replay
PAPER_SEED = env.int("PAPER_SEED", default=42)
PAPER_STARTING_BALANCE = env.str("PAPER_STARTING_BALANCE", default="100000")
PAPER_MAKER_FEE = env.str("PAPER_MAKER_FEE", default="0.0002")
PAPER_TAKER_FEE = env.str("PAPER_TAKER_FEE", default="0.0004")
if PAPER_FEED not in ("synthetic", "replay"):
    raise ImproperlyConfigured(f"PAPER_FEED must be synthetic or replay (got {PAPER_FEED!r})")
for _name in ("PAPER_STARTING_BALANCE", "PAPER_MAKER_FEE", "PAPER_TAKER_FEE"):
    try:
        _value = Decimal(globals()[_name])
    except ArithmeticError:
        _value = Decimal("-1")
    if not _value.is_finite() or _value < 0:
        raise ImproperlyConfigured(
            f"{_name} must be a non-negative decimal number (got {globals()[_name]!r})"
        )

# --- trading ------------------------------------------------------------------------
SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]{2,20}$")
TRADING_SYMBOLS = env.list("TRADING_SYMBOLS", default=["BTCUSDT", "ETHUSDT"])
for _symbol in TRADING_SYMBOLS:
    if not SYMBOL_PATTERN.match(_symbol):
        raise ImproperlyConfigured(
            f"TRADING_SYMBOLS holds {_symbol!r}: symbols are upper-case exchange symbols "
            "such as BTCUSDT, separated by commas"
        )
TICK_SECONDS = env.float("TICK_SECONDS", default=5.0)
if TICK_SECONDS <= 0:
    raise ImproperlyConfigured(f"TICK_SECONDS must be positive (got {TICK_SECONDS})")

# Futures defaults applied at trader start.
LEVERAGE = env.int("LEVERAGE", default=3)
if not 1 <= LEVERAGE <= 125:
    raise ImproperlyConfigured(f"LEVERAGE must be between 1 and 125 (got {LEVERAGE})")
ISOLATED = env.bool("ISOLATED", default=True)
HEDGE = env.bool("HEDGE", default=False)


def _env_decimal(name: str, default: str) -> Decimal:
    raw = env.str(name, default=default)
    try:
        value = Decimal(raw)
    except ArithmeticError:
        raise ImproperlyConfigured(f"{name} must be a decimal number (got {raw!r})") from None
    return value


# Risk limits: initial values of the editable RiskLimits row (admin / API).
RISK_MAX_ORDER_NOTIONAL = _env_decimal("RISK_MAX_ORDER_NOTIONAL", "10000")
RISK_MAX_POSITION_NOTIONAL = _env_decimal("RISK_MAX_POSITION_NOTIONAL", "50000")
RISK_DAILY_LOSS_LIMIT = _env_decimal("RISK_DAILY_LOSS_LIMIT", "2000")
# Hard caps no change through the API or the admin may exceed (the limits above are
# editable up to them); the guards also never use a limit above its cap.
RISK_HARD_MAX_ORDER_NOTIONAL = _env_decimal("RISK_HARD_MAX_ORDER_NOTIONAL", "100000")
RISK_HARD_MAX_POSITION_NOTIONAL = _env_decimal("RISK_HARD_MAX_POSITION_NOTIONAL", "500000")
RISK_HARD_MAX_DAILY_LOSS = _env_decimal("RISK_HARD_MAX_DAILY_LOSS", "20000")
RISK_HARD_MAX_LEVERAGE = env.int("RISK_HARD_MAX_LEVERAGE", default=20)
for _limit, _cap in (
    ("RISK_MAX_ORDER_NOTIONAL", "RISK_HARD_MAX_ORDER_NOTIONAL"),
    ("RISK_MAX_POSITION_NOTIONAL", "RISK_HARD_MAX_POSITION_NOTIONAL"),
    ("RISK_DAILY_LOSS_LIMIT", "RISK_HARD_MAX_DAILY_LOSS"),
):
    if not (globals()[_cap].is_finite() and globals()[_cap] > 0):
        raise ImproperlyConfigured(f"{_cap} must be a positive amount (got {globals()[_cap]})")
    if not (globals()[_limit].is_finite() and 0 < globals()[_limit] <= globals()[_cap]):
        raise ImproperlyConfigured(
            f"{_limit} must be positive and at most {_cap}={globals()[_cap]} "
            f"(got {globals()[_limit]})"
        )
if not 1 <= RISK_HARD_MAX_LEVERAGE <= 125:
    raise ImproperlyConfigured(
        f"RISK_HARD_MAX_LEVERAGE must be between 1 and 125 (got {RISK_HARD_MAX_LEVERAGE})"
    )
if LEVERAGE > RISK_HARD_MAX_LEVERAGE:
    raise ImproperlyConfigured(
        f"LEVERAGE must be at most RISK_HARD_MAX_LEVERAGE={RISK_HARD_MAX_LEVERAGE} (got {LEVERAGE})"
    )
RISK_DAY_RESET_HOUR_UTC = env.int("RISK_DAY_RESET_HOUR_UTC", default=0)
if not 0 <= RISK_DAY_RESET_HOUR_UTC <= 23:
    raise ImproperlyConfigured(
        f"RISK_DAY_RESET_HOUR_UTC must be an hour 0-23 (got {RISK_DAY_RESET_HOUR_UTC})"
    )

# --- research -----------------------------------------------------------------------
# Empty: the prediction service runs in-process.
PREDICTION_API_BASE_URL = env.str("PREDICTION_API_BASE_URL", default="")
# Bearer token for that service (its API_TOKEN); empty sends none.
PREDICTION_API_TOKEN = env.str("PREDICTION_API_TOKEN", default="")

# --- API ----------------------------------------------------------------------------
API_TOKEN = env.str("API_TOKEN", default="")
API_TOKEN_MIN_LENGTH = 32
if PRODUCTION and API_TOKEN and (len(API_TOKEN) < API_TOKEN_MIN_LENGTH or len(set(API_TOKEN)) < 12):
    raise ImproperlyConfigured(
        f"API_TOKEN must be a random value of at least {API_TOKEN_MIN_LENGTH} characters "
        "when XQUANT_ENV=production (or empty, to disable bearer authentication)"
    )
# The role (xquant.roles) of a client holding API_TOKEN: a machine client reads unless
# the operator grants it more.
API_TOKEN_ROLE = env.str("API_TOKEN_ROLE", default="viewer")
if API_TOKEN_ROLE not in ("viewer", "trader", "risk", "admin"):
    raise ImproperlyConfigured(
        f"API_TOKEN_ROLE must be one of viewer, trader, risk, admin (got {API_TOKEN_ROLE!r})"
    )
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])

API_THROTTLE_ANON = env.str("API_THROTTLE_ANON", default="120/minute")
API_THROTTLE_USER = env.str("API_THROTTLE_USER", default="6000/minute")
# Writes that move money or change risk (orders, cancels, strategies, limits, kill
# switch, futures settings), per client, on top of the rate above.
API_THROTTLE_MONEY = env.str("API_THROTTLE_MONEY", default="30/minute")
# Failed bearer/token attempts per client address before every token attempt from it
# is refused for the rest of the window (429).
API_TOKEN_FAILURES = env.str("API_TOKEN_FAILURES", default="10/minute")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "xquant.api.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Request bodies are JSON only, everywhere (the trading views said so already):
    # daphne itself answers a malformed multipart body with an empty 400 before Django
    # sees it, so the API must not invite one.
    "DEFAULT_PARSER_CLASSES": ["xquant.api.parsers.BoundedJSONParser"],
    "DEFAULT_PERMISSION_CLASSES": ["xquant.api.permissions.DeskPermission"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "xquant.api.authentication.BearerAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "xquant.api.authentication.UserTokenAuthentication",
    ],
    "DEFAULT_PAGINATION_CLASS": "xquant.api.pagination.StandardPagination",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        "xquant.api.throttling.MoneyRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": API_THROTTLE_ANON,
        "user": API_THROTTLE_USER,
        "money": API_THROTTLE_MONEY,
        "token_failures": API_TOKEN_FAILURES,
    },
    "EXCEPTION_HANDLER": "xquant.api.exceptions.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "xQuant API",
    "DESCRIPTION": "Trading desk API: strategies, orders, fills, positions, risk, research.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["xquant.api.permissions.DeskPermission"],
    # Swagger UI assets ship in a package: the machines are offline, no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per choice set (the strategy params spell their choices without labels).
    "ENUM_NAME_OVERRIDES": {
        "OrderSideEnum": "trading.models.OrderSide",
        "OrderTypeEnum": "trading.models.OrderType",
        "PositionSideEnum": "trading.models.PositionSide",
        "OrderStatusEnum": "trading.models.OrderStatus",
        "StrategyStatusEnum": "trading.models.StrategyStatus",
        "ParamsSideEnum": ["BUY", "SELL"],
        "ParamsPositionSideEnum": ["BOTH", "LONG", "SHORT"],
        "ParamsOrderTypeEnum": ["MARKET", "LIMIT"],
        "TechnicalSignalEnum": ["ma_cross", "rsi"],
        "HealthStatusEnum": ["ok", "failing"],
        "HealthCheckStatusEnum": ["ok", "failing", "skipped"],
        # Research (prediction) choice sets whose field names collide with the above.
        "SignalDirectionEnum": ["long", "short", "flat"],
        "BacktestStatusEnum": [
            ("queued", "Queued"),
            ("running", "Running"),
            ("finished", "Finished"),
            ("failed", "Failed"),
        ],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "xquant.api.schema.postprocess_optional_trailing_slash",
        "xquant.api.schema.postprocess_decimal_inputs",
    ],
}

# --- auth, i18n, static -------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins (site and admin) per username from one address before that pair is
# locked out for AXES_COOLOFF_MINUTES; a successful login resets the count.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_VERBOSE = False
if AXES_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured(f"AXES_FAILURE_LIMIT must be at least 1 (got {AXES_FAILURE_LIMIT})")
LOGIN_URL = "/accounts/login/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Serve straight from the app/static folders in development: no collectstatic needed.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

# --- secrets and logging ------------------------------------------------------------
# Values that must never reach a log line, a page or an API response.
SECRET_SETTING_NAMES = (
    "SECRET_KEY",
    "EXCHANGE_API_KEY",
    "EXCHANGE_API_SECRET",
    "API_TOKEN",
    "PREDICTION_API_TOKEN",
)
DEFAULT_EXCEPTION_REPORTER_FILTER = "xquant.secrets.SecretScrubbingExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "xquant.secrets.RedactingExceptionReporter"

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "xquant.secrets.RedactSecretsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own defaults give "django" a console handler of its own (DEBUG only)
        # and let it propagate too: every 4xx/5xx line came out twice. The root's handler
        # (with the secrets filter) is the only one.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "INFO"},
        "ccxt": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}

if XQUANT_ENV == "test":
    # Hashing strength is irrelevant in tests and dominates their run time otherwise.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# === operations: notifications, metrics, structured logs, probes (issue 20) ==========
# Kept in one block so that it merges cleanly with other changes to this file.
INSTALLED_APPS += ["trading.notifications"]

# Notifications (apprise targets are edited in the admin). A target waits this long
# after a first notice so that a burst becomes one digest...
NOTIFY_GATHER_SECONDS = env.float("NOTIFY_GATHER_SECONDS", default=2.0)
# ...retries a failed send this many times, the first after this many seconds, doubling.
NOTIFY_RETRIES = env.int("NOTIFY_RETRIES", default=3)
NOTIFY_RETRY_SECONDS = env.float("NOTIFY_RETRY_SECONDS", default=10.0)
if NOTIFY_GATHER_SECONDS < 0 or NOTIFY_RETRY_SECONDS < 0 or NOTIFY_RETRIES < 0:
    raise ImproperlyConfigured(
        "NOTIFY_GATHER_SECONDS, NOTIFY_RETRIES and NOTIFY_RETRY_SECONDS must not be negative"
    )
# apprise logs request details at DEBUG (URLs may carry tokens): warnings only.
LOGGING["loggers"]["apprise"] = {"level": "WARNING"}

# Metrics (docs/operations.md "Metrics"): /metrics answers a bearer METRICS_TOKEN or an address in
# METRICS_ALLOWED_IPS (addresses or networks); with neither it refuses everybody.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
# runtrader and Celery workers serve theirs on this port when it is set.
METRICS_PORT = env.int("METRICS_PORT", default=None)
METRICS_ADDR = env.str("METRICS_ADDR", default="127.0.0.1")
try:
    import ipaddress as _ipaddress

    for _network in METRICS_ALLOWED_IPS:
        _ipaddress.ip_network(_network, strict=False)
except ValueError as _exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {_exc}") from None
SECRET_SETTING_NAMES = (*SECRET_SETTING_NAMES, "METRICS_TOKEN")
INSTALLED_APPS += ["django_prometheus"]
PROMETHEUS_EXPORT_MIGRATIONS = False
# Queries counted and timed per database and their errors by type: django-prometheus's
# backends are Django's own with the cursor counted.
DATABASES["default"]["ENGINE"] = DATABASES["default"]["ENGINE"].replace(
    "django.db.backends.", "django_prometheus.db.backends."
)
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    *MIDDLEWARE,
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# Logs: LOG_FORMAT=json writes one JSON object per line with the context (symbol,
# strategy, order, request id, user); text stays the default. Celery workers log
# through this configuration too, instead of replacing the root logger's handlers.
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json (got {LOG_FORMAT!r})")
LOGGING["filters"]["log_context"] = {"()": "xquant.logs.LogContextFilter"}
LOGGING["formatters"]["json"] = {"()": "xquant.logs.JsonFormatter"}
LOGGING["handlers"]["console"]["filters"] = ["log_context", "redact_secrets"]
if LOG_FORMAT == "json":
    LOGGING["handlers"]["console"]["formatter"] = "json"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
_auth = MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
MIDDLEWARE.insert(_auth + 1, "xquant.logs.RequestLogContextMiddleware")
