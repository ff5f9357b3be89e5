"""pmh — Public Medical Hub (医療費助成のオンライン資格確認)."""

__version__ = "0.2.0.dev0"
