"""Terminal user interface: screens and widgets."""
