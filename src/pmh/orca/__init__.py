"""The ORCA (日医標準レセプトソフト) bridge: ``pmh orca push``."""
