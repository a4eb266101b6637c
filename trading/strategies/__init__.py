"""Trading strategies. Importing the package registers every kind for build_strategy."""

from trading.strategies import (  # noqa: F401 - imported to register
    combined,
    iceberg,
    technical,
    trailing_stop,
    twap,
    vwap,
)
