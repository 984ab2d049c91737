"""The network lab: networks trained side by side by several optimizers, seen from inside."""
