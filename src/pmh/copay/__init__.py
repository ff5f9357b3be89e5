"""The monthly self-pay ledger shared across institutions (自己負担上限額管理, the digital 上限額管理票)."""
