from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_research_caches():
    """Candle frames are kept per process: each test reads its own database's."""
    from prediction.research.frames import study_frames_clear

    study_frames_clear()
    yield
    study_frames_clear()


@pytest.fixture(scope="session", autouse=True)
def _close_optuna_storage(django_db_setup, django_db_blocker):
    """optuna's SQLAlchemy connections let go of the test database before it is dropped."""
    yield
    from prediction.research.storage import research_storage_close_all

    research_storage_close_all()


@pytest.fixture(scope="session")
def sample_bars():
    """The bundled real 15-minute BTC candles as arrays (no database)."""
    from prediction.indicators import OHLCV
    from prediction.services.candles import sample_frame

    return OHLCV.from_frame(sample_frame())


TREND_SPACE = {
    "fast": {"type": "int", "low": 5, "high": 30, "step": 5},
    "slow": {"type": "int", "low": 40, "high": 100, "step": 20},
}
