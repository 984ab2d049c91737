"""The user's own formulas: the editor dialog and the library of saved formulas."""
