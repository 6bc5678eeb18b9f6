"""The one module that relies on Textual internals (Textual 8.2.8, pinned in pyproject.toml).

What it relies on, each checked by tests/test_compat.py:

- in a layout, the screen gives every widget its new size through `Widget._size_updated(size,
  virtual_size, container_size, layout=True)`; with `layout=False` it sets `virtual_size`
  without running that reactive's watchers (and so without asking for another layout).
- a screen's compositor renders the rows the terminal would get (`Screen._compositor.
  render_strips()`, what `App.export_screenshot` draws, which has no text form), and a modal
  screen draws the screens under it from the context variable `textual._context.
  visible_screen_stack`, which the app sets to `App._background_screens` as it paints. Used by
  tests and benchmarks to read the screen as the user sees it.
- a screen paints an update in `Compositor._render_chops(crop, is_rendered_line)`: for each
  line, a dict of its cuts (`Compositor.cuts`, the last being the line's end) to the piece of
  the front-most widget there, visiting `Compositor.visible_widgets` (widget -> (region,
  clip)) front to back; a partial update writes only the pieces in the dirty spans
  (`ChopsUpdate`). The screen's compositor is the `_compositor` attribute `Screen.__init__`
  sets.
- a widget's `refresh()` marks its rows dirty in its `_styles_cache` at once and keeps the
  region in `_repaint_regions` (widget coordinates) with `_repaint_required` set; when the
  widget is next idle it posts an `Update` that makes the screen paint those regions in a
  frame (`Compositor.update_widgets`). A frame paints the compositor's `_dirty_regions`
  (`Compositor.render_update`), rendering each dirty row afresh; a layout resizes widgets
  (whose `_size_updated` refreshes them, and their scrollbars) after the reflow that marked
  their whole changed area dirty, and paints in the same call.
- a screen lays out in `Screen._refresh_layout(size, scroll)`: with `size` None (the frame
  timer), after `Screen._on_layout` has noted each widget that asked for a layout, with the
  auto-sized ancestors it reached, in `_layout_widgets` (ancestor -> children on the way); a
  request on the screen itself only raises its `_layout_updates`. It calls
  `Compositor.reflow(screen, size)` and gives every widget of `Compositor.layers` its size.
  `Compositor._arrange_root(root, size, visible_only=True)` maps only what is in view (what
  `reflow_visible`, Textual's path for a scroll, uses, leaving `_visible_map` set and
  `_full_map_invalidated` so the rest is mapped again when asked for).
- a `Collapsible` shows its title in the widget its `_title` attribute holds (a
  `CollapsibleTitle`), which lays out at every label (`Static.update`).
- a message's handlers run class by class along the MRO, each class's `@on` ones (collected
  only for MessagePump classes) then the one named for it, until `prevent_default`.
- a `CommandPalette` runs its search in a worker on each `Input.Changed` and shows each batch
  of results with `_refresh_command_list(command_list, commands, clear_current)`, which
  highlights the first (the best) and leaves the previous query's results shown until then;
  Enter in its box is an `Input.Submitted` handled by `_select_or_command` (registered with
  `@on`, so a subclass's own handler runs first and can `prevent_default` it), which picks the
  highlighted result, else `_selected_command` (a command picked from the list), else nothing.
- an app keeps the toasts shown in `App._notifications` (a `Notifications`, which answers `in`)
  and takes one off the screen with `App._unnotify(notification)`.
- a widget's rendered lines are kept by its `_styles_cache` (a `StylesCache`: `_cache`, a dict
  of row to Strip, and `_dirty_lines`, the rows to render again), which `_size_updated`
  empties, through `_set_dirty()`, whenever the widget's size changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from textual._compositor import Compositor, CompositorMap, ReflowResult
from textual._context import visible_screen_stack
from textual.geometry import Region, Size
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Collapsible, Input

from glmchat.tui.compat.one_write import terse

if TYPE_CHECKING:
    from textual.app import App
    from textual.notifications import Notification

__all__ = [
    "EnterWaitsForResults",
    "GrowsInPlace",
    "HeightStepLayouts",
    "SettledBySizing",
    "paint_dirty_rows_only",
    "relabelled_in_place",
    "screen_rows",
    "withdraw_notification",
]


class EnterWaitsForResults:
    """Mixin for a CommandPalette: an Enter typed before the search for what is in the box has
    shown its results picks the first of them as soon as they come.

    Textual's palette did nothing with that Enter (the first results come 0.25 s or more after
    the palette opens), or, with more letters typed after a first search, picked the previous
    query's best result, still shown while the new search ran."""

    _searching = False  # a search for the box's text has not shown its results yet
    _enter_waiting = False

    # Handlers by name, not `@on`: Textual collects decorated handlers from a class that is a
    # MessagePump itself, and this mixin is not; by name they run before the palette's own.

    def on_input_changed(self, event: Input.Changed) -> None:
        self._searching = True
        self._enter_waiting = False  # typed on after an Enter: that Enter was for less

    def on_input_submitted(self, event: Input.Submitted) -> None:
        palette: Any = self
        if self._searching and palette._selected_command is None:
            event.stop()
            event.prevent_default()  # not Textual's handler: there is nothing right to pick
            self._enter_waiting = True

    def _refresh_command_list(self, command_list: Any, commands: Any, clear_current: bool) -> None:
        super()._refresh_command_list(command_list, commands, clear_current)  # type: ignore[misc]
        self._searching = False
        if self._enter_waiting:
            self._enter_waiting = False
            if command_list.option_count:  # the first result is highlighted: take it
                palette: Any = self
                palette.call_later(palette._select_or_command)


def withdraw_notification(app: App[Any], notification: Notification) -> None:
    """Take a toast off the screen before its time is up (nothing if it has gone)."""
    if notification in app._notifications:
        app._unnotify(notification)


def screen_rows(app: App[Any]) -> list[str]:
    """The text of every row of the active screen as it would be painted now: scrolled-off
    and hidden widgets absent, a modal screen over its background."""
    visible_screen_stack.set(app._background_screens)
    return [strip.text for strip in app.screen._compositor.render_strips()]


class _DirtyRowsCompositor(Compositor):
    """Asks only the widgets that show in the dirty area, each only for its dirty rows.

    Textual's partial update renders every widget that overlaps the dirty area whole when the
    widget is wholly on screen (the screen, the tabs, the pane, the log: 40 rows each for a
    one-row change), then discards the rows that are not dirty. Rows are cut here, not columns:
    a widget's cached lines are whole lines, and cutting them would cost more than it saves."""

    def _render_chops(
        self, crop: Region, is_rendered_line: Callable[[int], bool]
    ) -> Sequence[Mapping[int, Strip]]:
        """Textual's `_render_chops`, asking only the widgets that show in the dirty area.

        Textual paints front to back and keeps, for each cut of a line, the first widget's
        piece: a widget behind others still rendered its rows, to be thrown away. Behind a
        streaming answer that was the screen, the tabs, the pane, the log and the message, a
        frame each, and every widget beside the dirty area in its rows (the scrollbar, the
        footer's keys). Here a widget is asked for its lines only when one of its cells in
        the dirty rows is still unpainted and inside the dirty columns; the chops come out
        the same as Textual's (tests/test_compat.py compares whole screens)."""
        cuts = self.cuts
        chops: list[dict[int, Strip | None]] = [dict.fromkeys(cut_set[:-1]) for cut_set in cuts]
        top, bottom, left, right = crop.y, crop.bottom, crop.x, crop.right
        # A partial update writes each row's dirty columns only (a status line's row is whole,
        # an answer's rows are the answer's): judged by row, not by the crop around them all.
        columns, self._dirty_columns = self._dirty_columns or {}, None
        for widget, (region, clip) in self.visible_widgets.items():
            y1 = max(clip.y, region.y, top)
            y2 = min(clip.bottom, region.bottom, bottom)
            x1 = max(clip.x, region.x)
            x2 = min(clip.right, region.right)
            if y2 <= y1 or x2 <= x1 or x2 <= left or x1 >= right:
                continue
            rows = [y for y in range(y1, y2) if is_rendered_line(y)]
            if not rows or not _uncovered(chops, cuts, rows, x1, x2, columns, (left, right)):
                continue
            strips = widget.render_lines(Region(x1 - region.x, y1 - region.y, x2 - x1, y2 - y1))
            for y in rows:
                strip = strips[y - y1]
                chops_line = chops[y]
                final_cuts = [cut for cut in cuts[y] if x2 >= cut >= x1]
                pieces = strip.divide([cut - x1 for cut in final_cuts[1:]])
                for cut, piece in zip(final_cuts, pieces, strict=False):
                    if chops_line.get(cut) is None:
                        chops_line[cut] = piece
        return cast("Sequence[Mapping[int, Strip]]", chops)

    in_view_only = False
    """Set by HeightStepLayouts for a reflow that only has height steps to lay out."""

    _dirty_columns: dict[int, tuple[int, int]] | None = None
    """For the partial update being painted: each dirty row's columns (see render_update)."""

    _on_screen: dict[Widget, tuple[Region, Region]] | None = None
    """Where each widget was when the last frame was painted (`visible_widgets` then)."""

    def reflow(self, parent: Widget, size: Size) -> ReflowResult:
        if not self.in_view_only:
            result = super().reflow(parent, size)
            # Textual's full reflow makes a new full map but leaves it marked stale when a
            # layout of what is in view (or a scroll) came before: the next question about a
            # widget's place (each resized widget asks for its size in this very layout)
            # arranged every widget a second time.
            self._full_map_invalidated = False
            self._dirty_what_left(size)
            return result
        # Map what is in view only, as Textual does after a scroll (reflow_visible), and say
        # which widgets changed size so that the screen sizes them as after a full reflow.
        old_map: CompositorMap | None = self._visible_map
        if old_map is None:
            old_map = {widget: self._full_map[widget] for widget in self.visible_widgets}
        self._cuts = None
        self._layers = None
        self._layers_visible = None
        self._visible_widgets = None
        self._full_map_invalidated = True
        self.root = parent
        self.size = size
        new_map, widgets = self._arrange_root(parent, size, visible_only=True)
        self._visible_map = new_map
        self.widgets = widgets
        if size.region not in self._dirty_regions:
            changes = new_map.items() ^ old_map.items()
            self._dirty_regions.update(
                area for area in (g.clip.intersection(g.region) for _, g in changes) if area
            )
        resized = {
            widget
            for widget, geometry in new_map.items()
            if widget in old_map and old_map[widget].region.size != geometry.region.size
        }
        return ReflowResult(hidden=set(), shown=set(), resized=resized)

    def render_update(
        self,
        full: bool = False,
        screen_stack: list[Screen[Any]] | None = None,
        simplify: bool = False,
    ) -> Any:
        painted = [self.size.region] if full else list(self._dirty_regions)
        served = self._requests_inside(painted) if painted else []
        self._dirty_columns = None if full else _columns_by_row(painted)
        try:
            update = terse(super().render_update(full, screen_stack, simplify))
        finally:
            self._dirty_columns = None  # nothing painted (no dirty area): not for a later render
        for widget, requests in served:
            if widget._repaint_regions == requests:  # none made while painting
                widget._repaint_regions.clear()
                widget._repaint_required = False
        if update is not None:
            self._on_screen = self.visible_widgets
        return update

    def _dirty_what_left(self, size: Size) -> None:
        """After a full reflow: mark dirty where a widget was painted and no longer is.

        Textual marks what changed between its last full map and the new one. After layouts
        that mapped only what is in view (`in_view_only`, and Textual's own after a scroll),
        that last full map is rebuilt lazily from the widgets as they are when someone asks
        for it: a toast removed in between was never in it, and its rows stayed on the
        terminal. What the last frame painted is the old map that counts."""
        shown = self._on_screen
        if not shown or size.region in self._dirty_regions:
            return
        now = self.visible_widgets
        for widget, (region, clip) in shown.items():
            if now.get(widget) != (region, clip) and (area := clip.intersection(region)):
                self._dirty_regions.add(area)

    def _requests_inside(self, painted: list[Region]) -> list[tuple[Widget, set[Region]]]:
        """The repaint requests that the frame about to paint `painted` serves.

        A layout resizes widgets after it has marked their changed area dirty, and a resized
        widget (and its scrollbar, its thumb having moved) asks for a repaint of all of itself:
        the layout's frame paints it, and then Textual painted the same rows again, in a frame
        of its own for the scrollbar and with the next update for the rest (some 30 rows of a
        growing answer every height step). A request whose rows are all inside what the frame
        paints is served by it: the frame renders them from the widget's current state."""
        served: list[tuple[Widget, set[Region]]] = []
        screen = self.size.region
        for widget, (region, clip) in self.visible_widgets.items():
            pending = widget._repaint_regions
            if not pending:
                continue
            area = clip.intersection(screen)
            offset = region.offset
            if all(
                any(done.contains_region(rows) for done in painted)
                for rows in (area.intersection(dirty.translate(offset)) for dirty in pending)
                if rows
            ):
                served.append((widget, set(pending)))
        return served


def _uncovered(
    chops: list[dict[int, Strip | None]],
    cuts: list[list[int]],
    rows: list[int],
    x1: int,
    x2: int,
    columns: dict[int, tuple[int, int]],
    crop: tuple[int, int],
) -> bool:
    """Whether a widget spanning columns `x1` to `x2` shows in any of `rows`: a piece of its
    span within the row's dirty columns (`columns`, else `crop`'s) is still unpainted (a
    line's pieces start at its cuts; the last cut is the line's end)."""
    for y in rows:
        left, right = columns.get(y, crop)
        left, right = max(left, x1), min(right, x2)
        if left >= right:
            continue
        line, chops_line = cuts[y], chops[y]
        for start, end in zip(line, line[1:], strict=False):
            if start >= right:
                break
            if end > left and chops_line[start] is None:
                return True
    return False


def _columns_by_row(regions: list[Region]) -> dict[int, tuple[int, int]]:
    """For each row the regions cover, the columns from the leftmost to the rightmost."""
    columns: dict[int, tuple[int, int]] = {}
    for region in regions:
        for y in range(region.y, region.bottom):
            left, right = columns.get(y, (region.x, region.right))
            columns[y] = (min(left, region.x), max(right, region.right))
    return columns


def paint_dirty_rows_only(screen: Screen[Any]) -> None:
    """Give a screen, before it is mounted, a compositor that renders only the dirty rows."""
    screen._compositor = _DirtyRowsCompositor()


_layouts_done = [0]  # layouts made by HeightStepLayouts screens so far
_sizing = [False]  # a HeightStepLayouts screen is giving its widgets their sizes


def _size_updated_once(
    widget: Widget, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
) -> bool:
    """Widget._size_updated, which in a layout of a HeightStepLayouts screen asks for no
    further layout for a widget that cannot show a scrollbar (SettledBySizing for all of
    them): every widget a new pane mounts (its tab, title, status bar, the pane itself) got
    a size in the pane's first layout and asked for a second, which changed nothing."""
    if _sizing[0] and layout:
        styles = widget.styles
        layout = styles.overflow_x in _SCROLLING or styles.overflow_y in _SCROLLING
    return _textual_size_updated(widget, size, virtual_size, container_size, layout)


_SCROLLING = ("auto", "scroll")
_textual_size_updated = Widget._size_updated


def settle_sizes_in_layouts() -> None:
    """Make a layout of a HeightStepLayouts screen give sizes without asking for another layout
    where none can follow (`_size_updated_once`). Once per process, before the app runs."""
    Widget._size_updated = _size_updated_once  # type: ignore[method-assign, assignment]


class HeightStepLayouts:
    """Mixin for a Screen (one that paints dirty rows only): a layout that only has height
    steps to make maps only what is in view.

    Textual maps and sizes every mounted widget in each layout, on screen or not: a streaming
    answer's height step below a window of finished turns sized some 90 widgets, against 29
    in an empty conversation, and took about three times as long to map. When the only
    widgets that asked for this layout are GrowsInPlace widgets that changed nothing but their
    height (`refresh_height_step`) and are in view, nothing out of view has moved on screen:
    the layout maps what is in view, as Textual does after a scroll, and the rest is mapped
    when something asks for it. Anything else (a mount, a widget shown or hidden, a style, a
    new terminal size, a request on the screen itself) lays out everything."""

    _steps_settled_at = -1

    def _refresh_layout(self, size: Size | None = None, scroll: bool = False) -> None:
        screen: Any = self
        compositor = screen._compositor
        asked = screen._layout_widgets
        leaves = set().union(*asked.values()) - asked.keys() if asked else set()
        in_view = (
            size is None
            and isinstance(compositor, _DirtyRowsCompositor)
            and compositor.size == screen.outer_size
            and not screen.app.is_inline
            and screen._layout_updates == self._steps_settled_at
            and bool(leaves)
            and all(
                getattr(widget, "_layout_asked", None) == (_layouts_done[0], "step")
                and widget in compositor.visible_widgets
                for widget in leaves
            )
        )
        compositor.in_view_only = in_view
        _sizing[0] = True
        try:
            super()._refresh_layout(size, scroll)  # type: ignore[misc]
        finally:
            _sizing[0] = False
            compositor.in_view_only = False
            self._steps_settled_at = screen._layout_updates
            _layouts_done[0] += 1  # what widgets asked for before this is served
            if in_view:
                # A widget's new width sets its virtual size, which asks for a layout again
                # (one that finds nothing to change): that one is still the same step.
                for widget in leaves:
                    if widget._layout_required:
                        widget._layout_asked = (_layouts_done[0], "step")


def relabelled_in_place(panel: Collapsible) -> None:
    """Say that the title of `panel` was just relabelled and nothing else about it changed:
    the layout the title asks for moves nothing else (HeightStepLayouts lays out what is in
    view). A Collapsible's title is a one-line label of its own width; every label change lays
    out (`Static.update`), and a live title changes a few times a second."""
    title: Any = panel._title  # a Textual widget: the field is set on the instance
    title._layout_asked = (_layouts_done[0], "step")


class GrowsInPlace:
    """Mixin for a Widget whose rows do not depend on its height: it keeps the rows it has
    rendered when it only grows or shrinks.

    Textual renders every row of a widget again after any change of its size. A streaming
    answer grows a step at a time, and so does its message: each step re-rendered some 45 rows
    of the two that had not changed. A bottom border or padding depends on the height, so a
    widget with one is left to Textual."""

    _layout_asked: tuple[int, str] = (-1, "")
    """The layout the widget asked for since the last one (numbered by `_layouts_done`): a
    "step" while it asked only for height steps."""

    def refresh_height_step(self, region: Region) -> None:
        """Repaint `region` and lay out again for a new height, nothing else having changed."""
        done, asked = self._layout_asked
        self.refresh(region, layout=True)
        if done != _layouts_done[0] or asked == "step":
            self._layout_asked = (_layouts_done[0], "step")

    def refresh(self, *regions: Region, **kwargs: bool) -> Any:
        if kwargs.get("layout") or kwargs.get("recompose"):
            self._layout_asked = (_layouts_done[0], "other")
        return super().refresh(*regions, **kwargs)  # type: ignore[misc]

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        widget: Any = self
        old: Size = widget._size
        cache = widget._styles_cache
        keep = (
            size.width == old.width > 0
            and size.height != old.height
            and not widget.styles.gutter.bottom
        )
        if keep:
            kept = {y: strip for y, strip in cache._cache.items() if y not in cache._dirty_lines}
        changed: bool = super()._size_updated(  # type: ignore[misc]
            size, virtual_size, container_size, layout=layout
        )
        if keep:
            rows = {y: strip for y, strip in kept.items() if y < size.height}
            cache._cache.update(rows)
            cache._dirty_lines.difference_update(rows)
        return changed


class SettledBySizing:
    """Mixin for a Widget: a new size from a layout does not ask for another layout.

    In a layout, Textual gives every widget its new size through `_size_updated`, which sets
    the reactive `virtual_size` declared with `layout=True`: each change of a widget's size
    asks for a second, full layout of the screen right after the first, which finds nothing
    to change. A streaming answer changes the size of the answer, its message and the log
    at every step of its height, so half of its layouts were these. A widget whose layout
    depends only on its own content (not on its virtual size) can skip them.

    `virtual_size` watchers do not run for these sizes; a widget that needs to follow its size
    overrides `size_settled`, which is called instead.
    """

    def size_settled(self, virtual_size: Size) -> None:
        """Called after every size a layout gives the widget, changed or not."""

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        changed: bool = super()._size_updated(  # type: ignore[misc]
            size, virtual_size, container_size, layout=False
        )
        self.size_settled(virtual_size)
        return changed
