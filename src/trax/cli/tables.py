"""Tables that fit the terminal: cut long cells with an ellipsis, never drop a column."""

from __future__ import annotations

from rich.box import Box
from rich.table import Table


def fitted_table(box: Box) -> Table:
    """A table for the terminal's width, whatever it is (80 columns included).

    Columns are added by the caller: the short ones with ``no_wrap``, the free-text ones (file
    names, errors, previews) with ``overflow="ellipsis"``, a minimum ``width`` and a ``ratio``,
    so that they take what the short ones leave and are cut rather than wrapped mid-word. No
    edge and one space of padding on each side of a column divider leave the most room.
    """
    return Table(box=box, show_edge=False, pad_edge=False, collapse_padding=True, expand=True)
