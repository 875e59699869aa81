//! A file browser drawn in egui (no system dialog), for picking the reference slots' tracks.
//! It reads a folder once per navigation (the refresh button re-reads it), lists folders first
//! and then files, each in natural order, and [`FileBrowser::show`] returns the audio file the
//! user picks. Everything except the drawing is plain functions, tested on real temp folders;
//! the drawing is tested headless with simulated clicks and keys.

use std::cmp::Ordering;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// File extensions (lower case) the reference loader decodes; matched case-insensitively.
pub const AUDIO_EXTENSIONS: [&str; 12] =
    ["wav", "wave", "aif", "aiff", "aifc", "flac", "mp3", "m4a", "mp4", "aac", "ogg", "oga"];

/// Most entries read from one folder; the rest are left out with a visible note.
const MAX_ENTRIES: usize = 50_000;

/// Most recently picked files remembered.
const MAX_RECENT: usize = 8;

/// Bytes per kilobyte in displayed sizes (binary, as DAWs and Windows count).
const BYTES_PER_KB: f64 = 1024.0;

/// A displayed size switches to the next unit at this many of the current one (no "1023.9 KB").
const UNIT_SWITCH: f64 = 999.95;

/// Seconds per day, for the date formatting.
const SECONDS_PER_DAY: i64 = 86_400;

/// Vertical padding inside a listing row, in points.
const ROW_PADDING_PT: f32 = 4.0;

/// Horizontal padding at both ends of a listing row and between its columns, in points.
const COLUMN_GAP_PT: f32 = 8.0;

/// Narrowest name column before the date column is dropped, in points.
const MIN_NAME_WIDTH_PT: f32 = 110.0;

/// Fewest listing rows kept visible however little space is left.
const MIN_LIST_ROWS: f32 = 3.0;

/// What a listed entry is (symlinks followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EntryKind {
    /// A folder (or a link to one).
    Folder,
    /// A file, or anything else that is not a folder.
    File,
    /// A symlink whose target is missing (listed as a file, refused on pick).
    BrokenLink,
}

/// One folder entry, with its display text prepared once when the folder is read.
#[derive(Clone, Debug)]
struct Entry {
    /// File name as shown (lossy UTF-8).
    name: String,
    /// `name` in lower case, for the filter.
    name_lower: String,
    /// Full path.
    path: PathBuf,
    /// Folder, file or broken link.
    kind: EntryKind,
    /// Size ("1.5 MB"); empty for folders and unknown sizes.
    size_text: String,
    /// Modification time ("2024-05-01 13:07", UTC); empty if unknown.
    modified_text: String,
}

/// One folder's contents as read from disk, sorted for display.
#[derive(Debug, Default)]
struct Folder {
    /// Folders first, then files, each in natural order.
    entries: Vec<Entry>,
    /// The folder has more entries than the cap; only the first ones were read.
    truncated: bool,
}

/// Which of a folder's entries are listed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ListOptions {
    /// Only folders and audio files ([`is_audio_file`]).
    audio_only: bool,
    /// Also names starting with a dot.
    show_hidden: bool,
    /// Case-insensitive substring the name must contain (empty: all).
    filter: String,
}

impl Default for ListOptions {
    fn default() -> Self {
        Self { audio_only: true, show_hidden: false, filter: String::new() }
    }
}

/// What the user asked for this frame; applied after drawing, so drawing only reads the state.
#[derive(Debug)]
enum Action {
    /// Nothing.
    None,
    /// Go to this folder.
    Open(PathBuf),
    /// Go to the parent folder.
    Parent,
    /// Read the folder again.
    Refresh,
    /// Open (folder) or pick (file) this listing row.
    Activate(usize),
    /// Pick this file (from the recent list).
    Pick(PathBuf),
    /// Go to or pick what the path field says.
    TypedPath,
    /// Select this listing row; scroll it into view if true (keyboard, not a click under the
    /// pointer, which would move the row away from a double-click's second click).
    Select(usize, bool),
    /// The listing options changed.
    OptionsChanged,
}

/// The browser (GUI thread only).
pub struct FileBrowser {
    /// Folder being shown.
    current_dir: PathBuf,
    /// Text of the path field.
    path_text: String,
    /// The current folder's contents (read once per navigation).
    folder: Folder,
    /// Which entries are listed.
    options: ListOptions,
    /// Indices into `folder.entries` that pass `options`, in display order.
    visible: Vec<usize>,
    /// Selected listing row (index into `visible`).
    selected: Option<usize>,
    /// Error shown in red above the listing.
    error: Option<String>,
    /// Recently picked files, most recent first.
    recent: Vec<PathBuf>,
    /// Quick-access folders (label, path), found at construction.
    roots: Vec<(&'static str, PathBuf)>,
    /// Most entries read from one folder.
    max_entries: usize,
    /// Scroll the listing to the top on the next frame (after navigation).
    scroll_to_top: bool,
    /// Scroll the selected row into view on the next frame.
    scroll_to_selected: bool,
    /// Listing rows drawn in the last frame with their screen rects, for the headless tests.
    #[cfg(test)]
    drawn_rows: Vec<(usize, egui::Rect)>,
}

impl FileBrowser {
    /// A browser showing `start_dir` (or its nearest existing ancestor); `None` shows the home
    /// folder, or "/" if there is none.
    pub fn new(start_dir: Option<PathBuf>) -> Self {
        Self::with_max_entries(start_dir, MAX_ENTRIES)
    }

    /// [`Self::new`] with a different cap on the entries read per folder.
    fn with_max_entries(start_dir: Option<PathBuf>, max_entries: usize) -> Self {
        let home = home_dir();
        let start = start_dir.or_else(|| home.clone()).unwrap_or_else(|| PathBuf::from("/"));
        let mut browser = Self {
            current_dir: PathBuf::new(),
            path_text: String::new(),
            folder: Folder::default(),
            options: ListOptions::default(),
            visible: Vec::new(),
            selected: None,
            error: None,
            recent: Vec::new(),
            roots: quick_roots(home.as_deref()),
            max_entries,
            scroll_to_top: true,
            scroll_to_selected: false,
            #[cfg(test)]
            drawn_rows: Vec::new(),
        };
        browser.set_dir(start);
        browser
    }

    /// The folder being shown (remember it to reopen the browser there).
    pub fn current_dir(&self) -> &Path {
        &self.current_dir
    }

    /// Shows `dir` (or its nearest existing ancestor). A folder that cannot be read is still
    /// shown, empty, with the error.
    pub fn set_dir(&mut self, dir: PathBuf) {
        let dir = nearest_existing_dir(&dir);
        if !self.open_dir(dir.clone()) {
            self.install(dir, Folder::default());
        }
    }

    /// Reads the current folder again; if it has vanished, shows its nearest existing ancestor.
    pub fn refresh(&mut self) {
        let dir = self.current_dir.clone();
        let vanished = !dir.is_dir();
        self.set_dir(dir.clone());
        if vanished && self.error.is_none() {
            self.error =
                Some(format!("{} no longer exists; showing {}", dir.display(), self.current_dir.display()));
        }
    }

    /// Recently picked files, most recent first.
    pub fn recent(&self) -> &[PathBuf] {
        &self.recent
    }

    /// Restores the recent list (most recent first; duplicates and extras are dropped).
    pub fn set_recent(&mut self, recent: Vec<PathBuf>) {
        self.recent.clear();
        for path in recent.into_iter().rev() {
            push_recent(&mut self.recent, path);
        }
    }

    /// Draws the browser into the available space. Returns the picked audio file on the frame
    /// it is picked (double-click, Enter, the Load button, the path field or the recent list).
    /// The listing keys (Up/Down, Enter, Backspace) work while no widget has keyboard focus.
    pub fn show(&mut self, ui: &mut egui::Ui) -> Option<PathBuf> {
        let mut action = self.keyboard_action(ui);
        self.toolbar(ui, &mut action);
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        if self.folder.truncated {
            ui.colored_label(ui.visuals().warn_fg_color, truncation_note(self.max_entries));
        }
        self.listing(ui, &mut action);
        self.footer(ui, &mut action);
        self.apply(action)
    }

    /// The listing keys pressed this frame (consumed), unless a widget has keyboard focus.
    fn keyboard_action(&self, ui: &mut egui::Ui) -> Action {
        if ui.ctx().egui_wants_keyboard_input() {
            return Action::None;
        }
        let keys = [egui::Key::ArrowDown, egui::Key::ArrowUp, egui::Key::Enter, egui::Key::Backspace];
        let [down, up, enter, back] = ui.input_mut(|input| {
            keys.map(|key| input.count_and_consume_key(egui::Modifiers::NONE, key) as isize)
        });
        let target = moved_selection(self.selected, down - up, self.visible.len());
        match (target, self.selected) {
            (Some(row), _) if down != up => Action::Select(row, true),
            (_, Some(row)) if enter > 0 => Action::Activate(row),
            _ if back > 0 => Action::Parent,
            _ => Action::None,
        }
    }

    /// Navigation buttons and recent files; the path field with Refresh; the filter and toggles.
    fn toolbar(&mut self, ui: &mut egui::Ui, action: &mut Action) {
        ui.horizontal_wrapped(|ui| {
            let has_parent = self.current_dir.parent().is_some();
            let parent = ui.add_enabled(has_parent, egui::Button::new("Parent"));
            if parent.on_hover_text("Parent folder (Backspace)").clicked() {
                *action = Action::Parent;
            }
            for (label, path) in &self.roots {
                let here = self.current_dir == *path;
                if ui.selectable_label(here, *label).on_hover_text(path.display().to_string()).clicked() {
                    *action = Action::Open(path.clone());
                }
            }
            ui.add_enabled_ui(!self.recent.is_empty(), |ui| {
                ui.menu_button("Recent", |ui| {
                    for path in &self.recent {
                        let name = display_name(path);
                        if ui.button(name).on_hover_text(path.display().to_string()).clicked() {
                            *action = Action::Pick(path.clone());
                            ui.close();
                        }
                    }
                });
            });
        });
        // One line each, right to left: the text box takes what the buttons leave.
        let line = egui::vec2(ui.available_width(), ui.spacing().interact_size.y);
        let right_to_left = egui::Layout::right_to_left(egui::Align::Center);
        ui.allocate_ui_with_layout(line, right_to_left, |ui| {
            if ui.button("Refresh").on_hover_text("Read the folder again").clicked() {
                *action = Action::Refresh;
            }
            let path_field = egui::TextEdit::singleline(&mut self.path_text)
                .desired_width(ui.available_width())
                .align(egui::Align2::LEFT_CENTER)
                .hint_text("Folder or file path");
            let path_field = ui.add(path_field).on_hover_text("Enter goes to a folder or picks a file");
            if path_field.lost_focus() {
                if ui.input(|input| input.key_pressed(egui::Key::Enter)) {
                    *action = Action::TypedPath;
                } else {
                    self.path_text = self.current_dir.display().to_string();
                }
            }
        });
        ui.allocate_ui_with_layout(line, right_to_left, |ui| {
            let hidden = ui.toggle_value(&mut self.options.show_hidden, "Hidden");
            let hidden = hidden.on_hover_text("Show names starting with a dot");
            let audio = ui.toggle_value(&mut self.options.audio_only, "Audio only");
            let filter = egui::TextEdit::singleline(&mut self.options.filter)
                .desired_width(ui.available_width())
                .align(egui::Align2::LEFT_CENTER)
                .hint_text("Filter names");
            let filter = ui.add(filter);
            if filter.changed() || audio.changed() || hidden.changed() {
                *action = Action::OptionsChanged;
            }
        });
    }

    /// The listing, drawing only the rows in view, above the footer.
    fn listing(&mut self, ui: &mut egui::Ui, action: &mut Action) {
        let row_height_pt = ui.text_style_height(&egui::TextStyle::Body) + ROW_PADDING_PT;
        let footer_height_pt = ui.spacing().interact_size.y + ui.spacing().item_spacing.y;
        let list_height_pt = (ui.available_height() - footer_height_pt).max(row_height_pt * MIN_LIST_ROWS);
        let columns = column_widths(ui, ui.available_width());
        let mut area = egui::ScrollArea::vertical()
            .id_salt("file_browser_list")
            .auto_shrink([false, false])
            .max_height(list_height_pt);
        if std::mem::take(&mut self.scroll_to_top) {
            area = area.vertical_scroll_offset(0.0);
        }
        let scroll_to = if std::mem::take(&mut self.scroll_to_selected) { self.selected } else { None };
        let rows_id = ui.scope_id().with("file_browser_rows");
        #[cfg(test)]
        self.drawn_rows.clear();
        ui.scope(|ui| {
            ui.spacing_mut().item_spacing.y = 0.0;
            area.show_rows(ui, row_height_pt, self.visible.len(), |ui, rows| {
                if let Some(target) = scroll_to {
                    // Works for rows outside the drawn range too: offset from the first drawn row.
                    let top_pt = ui.max_rect().top() + (target as f32 - rows.start as f32) * row_height_pt;
                    let left_pt = ui.max_rect().left();
                    let rect = egui::Rect::from_min_size(
                        egui::pos2(left_pt, top_pt),
                        egui::vec2(1.0, row_height_pt),
                    );
                    ui.scroll_to_rect(rect, None);
                }
                for row in rows {
                    let Some(entry) = self.visible.get(row).and_then(|&i| self.folder.entries.get(i)) else {
                        continue;
                    };
                    let (_, rect) = ui.allocate_space(egui::vec2(ui.available_width(), row_height_pt));
                    let response = ui.interact(rect, rows_id.with(row), egui::Sense::click());
                    paint_row(ui, rect, response.hovered(), entry, self.selected == Some(row), columns);
                    if response.double_clicked() {
                        *action = Action::Activate(row);
                    } else if response.clicked() {
                        *action = Action::Select(row, false);
                    }
                    #[cfg(test)]
                    self.drawn_rows.push((row, rect));
                }
            });
        });
    }

    /// The Load/Open button and what is selected (or how many entries are listed).
    fn footer(&self, ui: &mut egui::Ui, action: &mut Action) {
        ui.horizontal(|ui| {
            let selected = self.selected_entry();
            let label =
                if selected.is_some_and(|entry| entry.kind == EntryKind::Folder) { "Open" } else { "Load" };
            let button = ui.add_enabled(selected.is_some(), egui::Button::new(label));
            let clicked = button.on_hover_text("Or double-click, or Enter").clicked();
            if let Some(row) = self.selected.filter(|_| clicked) {
                *action = Action::Activate(row);
            }
            let text = match selected {
                Some(entry) => entry.name.clone(),
                None if self.visible.len() == 1 => "1 item".to_owned(),
                None => format!("{} items", self.visible.len()),
            };
            ui.add(egui::Label::new(text).truncate());
        });
    }

    /// Carries out this frame's action; returns the picked file, if any.
    fn apply(&mut self, action: Action) -> Option<PathBuf> {
        let mut picked = None;
        match action {
            Action::None => {}
            Action::Open(dir) => _ = self.open_dir(dir),
            Action::Parent => self.go_parent(),
            Action::Refresh => self.refresh(),
            Action::Activate(row) => picked = self.activate(row),
            Action::Pick(path) => picked = self.pick(path),
            Action::TypedPath => picked = self.submit_typed_path(),
            Action::Select(row, scroll) => (self.selected, self.scroll_to_selected) = (Some(row), scroll),
            Action::OptionsChanged => self.update_visible(self.selected_path()),
        }
        picked
    }

    /// Goes to `dir` if it can be read; otherwise keeps the current listing and shows the error.
    /// Returns whether it went.
    fn open_dir(&mut self, dir: PathBuf) -> bool {
        match read_folder(&dir, self.max_entries) {
            Ok(folder) => {
                self.install(dir, folder);
                self.error = None;
                true
            }
            Err(error) => {
                self.error = Some(error);
                false
            }
        }
    }

    /// Goes to the parent folder and selects the folder it came from.
    fn go_parent(&mut self) {
        let child = self.current_dir.clone();
        if let Some(parent) = child.parent() {
            if self.open_dir(parent.to_path_buf()) {
                self.select_path(&child);
            }
        }
    }

    /// Makes `folder` (read from `dir`) the shown listing; a re-read of the same folder keeps the
    /// selection.
    fn install(&mut self, dir: PathBuf, folder: Folder) {
        let keep = if dir == self.current_dir { self.selected_path() } else { None };
        self.scroll_to_top = keep.is_none();
        self.path_text = dir.display().to_string();
        self.current_dir = dir;
        self.folder = folder;
        self.update_visible(keep);
    }

    /// Re-filters the listing and selects `keep` if it is still listed.
    fn update_visible(&mut self, keep: Option<PathBuf>) {
        self.visible = visible_entries(&self.folder.entries, &self.options);
        self.selected = None;
        if let Some(path) = keep {
            self.select_path(&path);
        }
    }

    /// Selects the listed entry at `path` (if listed) and scrolls to it.
    fn select_path(&mut self, path: &Path) {
        let entries = &self.folder.entries;
        self.selected = self.visible.iter().position(|&i| entries[i].path == path);
        self.scroll_to_selected = self.selected.is_some();
    }

    /// The selected entry.
    fn selected_entry(&self) -> Option<&Entry> {
        self.selected.and_then(|row| self.visible.get(row)).and_then(|&i| self.folder.entries.get(i))
    }

    /// The selected entry's path.
    fn selected_path(&self) -> Option<PathBuf> {
        self.selected_entry().map(|entry| entry.path.clone())
    }

    /// Opens the folder or picks the file on listing row `row`.
    fn activate(&mut self, row: usize) -> Option<PathBuf> {
        let entry = self.visible.get(row).and_then(|&i| self.folder.entries.get(i))?;
        let (kind, path) = (entry.kind, entry.path.clone());
        self.selected = Some(row);
        if kind == EntryKind::Folder {
            self.open_dir(path);
            None
        } else {
            self.pick(path)
        }
    }

    /// Picks `path` if it is a readable audio file (added to the recent list), else shows why not.
    fn pick(&mut self, path: PathBuf) -> Option<PathBuf> {
        match check_pick(&path) {
            Ok(()) => {
                push_recent(&mut self.recent, path.clone());
                self.error = None;
                Some(path)
            }
            Err(error) => {
                self.error = Some(error);
                None
            }
        }
    }

    /// Goes to the folder the path field names, or picks the file it names (and shows its folder).
    fn submit_typed_path(&mut self) -> Option<PathBuf> {
        let text = self.path_text.trim();
        if text.is_empty() {
            self.path_text = self.current_dir.display().to_string();
            return None;
        }
        let path = normalize(&self.current_dir.join(expand_home(text)));
        if path.is_dir() {
            self.open_dir(path);
            return None;
        }
        let picked = self.pick(path.clone())?;
        if let Some(parent) = path.parent() {
            if self.open_dir(parent.to_path_buf()) {
                self.select_path(&path);
            }
        }
        Some(picked)
    }
}

/// Widths of the size and date columns for a listing `width_pt` wide, in points; the date
/// width is 0 when the name column would get too narrow.
fn column_widths(ui: &egui::Ui, width_pt: f32) -> (f32, f32) {
    let text_width_pt = |text: &str| {
        let wrap = Some(egui::TextWrapMode::Extend);
        egui::WidgetText::from(text).into_galley(ui, wrap, f32::INFINITY, egui::TextStyle::Body).size().x
    };
    let (size_pt, date_pt) = (text_width_pt("999.9 MB"), text_width_pt("0000-00-00 00:00"));
    let name_pt = width_pt - size_pt - date_pt - 4.0 * COLUMN_GAP_PT;
    (size_pt, if name_pt < MIN_NAME_WIDTH_PT { 0.0 } else { date_pt })
}

/// Paints one listing row: highlight, then name (truncated), size and date right-aligned.
fn paint_row(
    ui: &egui::Ui,
    rect: egui::Rect,
    hovered: bool,
    entry: &Entry,
    selected: bool,
    columns: (f32, f32),
) {
    let (size_pt, date_pt) = columns;
    let visuals = ui.visuals();
    if selected {
        ui.painter().rect_filled(rect, 2.0, visuals.selection.bg_fill);
    } else if hovered {
        ui.painter().rect_filled(rect, 2.0, visuals.widgets.hovered.weak_bg_fill);
    }
    let colour = match (selected, entry.kind) {
        (true, _) => visuals.selection.stroke.color,
        (false, EntryKind::Folder) => visuals.strong_text_color(),
        (false, EntryKind::File) => visuals.text_color(),
        (false, EntryKind::BrokenLink) => visuals.warn_fg_color,
    };
    let date_right = egui::pos2(rect.right() - COLUMN_GAP_PT, rect.center().y);
    let size_right = date_right - egui::vec2(if date_pt > 0.0 { date_pt + COLUMN_GAP_PT } else { 0.0 }, 0.0);
    let name_left = egui::pos2(rect.left() + COLUMN_GAP_PT, rect.center().y);
    let name_width_pt = size_right.x - size_pt - COLUMN_GAP_PT - name_left.x;
    let name = if entry.kind == EntryKind::Folder { format!("{}/", entry.name) } else { entry.name.clone() };
    let text = |text: &str, anchor, align: egui::Align2, max_width_pt: f32| {
        if !text.is_empty() && max_width_pt > 0.0 {
            let wrap = Some(egui::TextWrapMode::Truncate);
            let galley =
                egui::WidgetText::from(text).into_galley(ui, wrap, max_width_pt, egui::TextStyle::Body);
            ui.painter().galley(align.anchor_size(anchor, galley.size()).min, galley, colour);
        }
    };
    text(&name, name_left, egui::Align2::LEFT_CENTER, name_width_pt);
    text(&entry.size_text, size_right, egui::Align2::RIGHT_CENTER, size_pt);
    text(&entry.modified_text, date_right, egui::Align2::RIGHT_CENTER, date_pt);
}

/// True if `path` has an audio extension ([`AUDIO_EXTENSIONS`], any case).
pub fn is_audio_file(path: &Path) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| AUDIO_EXTENSIONS.iter().any(|audio| audio.eq_ignore_ascii_case(ext)))
}

/// Reads `dir` (at most `max_entries` entries) and sorts it: folders first, then files, each in
/// [`natural_cmp`] order. Entries the OS fails to report are left out. Errors are readable messages.
fn read_folder(dir: &Path, max_entries: usize) -> Result<Folder, String> {
    let reader = fs::read_dir(dir).map_err(|error| format!("Cannot read {}: {error}", dir.display()))?;
    let mut folder = Folder::default();
    for item in reader.flatten() {
        if folder.entries.len() == max_entries {
            folder.truncated = true;
            break;
        }
        folder.entries.push(read_entry(item.path()));
    }
    folder.entries.sort_by(|a, b| {
        let is_file = |entry: &Entry| entry.kind != EntryKind::Folder;
        is_file(a).cmp(&is_file(b)).then_with(|| natural_cmp(&a.name, &b.name))
    });
    Ok(folder)
}

/// Describes the entry at `path`, following symlinks.
fn read_entry(path: PathBuf) -> Entry {
    let name = display_name(&path);
    let (kind, metadata) = match fs::metadata(&path) {
        Ok(metadata) if metadata.is_dir() => (EntryKind::Folder, Some(metadata)),
        Ok(metadata) => (EntryKind::File, Some(metadata)),
        Err(_) if is_symlink(&path) => (EntryKind::BrokenLink, None),
        Err(_) => (EntryKind::File, None),
    };
    let size_text = match (&metadata, kind) {
        (Some(metadata), EntryKind::File) => format_size(metadata.len()),
        _ => String::new(),
    };
    let modified_text =
        metadata.and_then(|metadata| metadata.modified().ok()).map(format_modified).unwrap_or_default();
    Entry { name_lower: name.to_lowercase(), name, path, kind, size_text, modified_text }
}

/// Indices of the `entries` that `options` lets through, in order.
fn visible_entries(entries: &[Entry], options: &ListOptions) -> Vec<usize> {
    let needle = options.filter.trim().to_lowercase();
    let shown = |entry: &Entry| {
        (options.show_hidden || !entry.name.starts_with('.'))
            && (!options.audio_only || entry.kind == EntryKind::Folder || is_audio_file(&entry.path))
            && entry.name_lower.contains(&needle)
    };
    entries.iter().enumerate().filter(|(_, entry)| shown(entry)).map(|(i, _)| i).collect()
}

/// Natural, case-insensitive order: digit runs compare as numbers ("track 2" < "track 10"),
/// other characters by their lower case; ties fall back to plain byte order.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut i, mut j) = (0, 0);
    while let (Some(x), Some(y)) = (a[i..].chars().next(), b[j..].chars().next()) {
        let order = if x.is_ascii_digit() && y.is_ascii_digit() {
            let run = |s: &str, at: usize| at + s[at..].bytes().take_while(u8::is_ascii_digit).count();
            let (i_end, j_end) = (run(a, i), run(b, j));
            let (m, n) = (a[i..i_end].trim_start_matches('0'), b[j..j_end].trim_start_matches('0'));
            (i, j) = (i_end, j_end);
            m.len().cmp(&n.len()).then_with(|| m.cmp(n))
        } else {
            (i, j) = (i + x.len_utf8(), j + y.len_utf8());
            x.to_lowercase().cmp(y.to_lowercase())
        };
        if order.is_ne() {
            return order;
        }
    }
    (a.len() - i).cmp(&(b.len() - j)).then_with(|| a.cmp(b))
}

/// Moves a selection by `step` rows in a listing of `rows` rows, clamped at the ends; with
/// nothing selected, a step down selects the first row and a step up the last (None if empty).
fn moved_selection(current: Option<usize>, step: isize, rows: usize) -> Option<usize> {
    let last = rows.checked_sub(1)?;
    Some(match current {
        None if step < 0 => last,
        None => 0,
        Some(row) => row.saturating_add_signed(step).min(last),
    })
}

/// Puts `path` first in `recent` (moving it if already there) and keeps at most [`MAX_RECENT`].
fn push_recent(recent: &mut Vec<PathBuf>, path: PathBuf) {
    recent.retain(|known| *known != path);
    recent.insert(0, path);
    recent.truncate(MAX_RECENT);
}

/// Checks that `path` can be picked: an existing audio file, not a folder or a broken link.
fn check_pick(path: &Path) -> Result<(), String> {
    let name = display_name(path);
    match fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => Err(format!("{name} is a folder")),
        Ok(_) if !is_audio_file(path) => {
            Err(format!("{name} is not an audio file ({})", AUDIO_EXTENSIONS.join(", ")))
        }
        Ok(_) => Ok(()),
        Err(_) if is_symlink(path) => Err(format!("{name} is a broken link: its target is missing")),
        Err(error) => Err(format!("Cannot open {}: {error}", path.display())),
    }
}

/// True if `path` itself is a symlink.
fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|metadata| metadata.file_type().is_symlink())
}

/// The last component of `path` as text (the whole path if it has none, like "/").
fn display_name(path: &Path) -> String {
    match path.file_name() {
        Some(name) => name.to_string_lossy().into_owned(),
        None => path.display().to_string(),
    }
}

/// "1.5 MB"-style size with one decimal (KB below 1000 KB, then MB, then GB; 1 KB = 1024 bytes).
fn format_size(size_bytes: u64) -> String {
    let size_kb = size_bytes as f64 / BYTES_PER_KB;
    let size_mb = size_kb / BYTES_PER_KB;
    if size_kb < UNIT_SWITCH {
        format!("{size_kb:.1} KB")
    } else if size_mb < UNIT_SWITCH {
        format!("{size_mb:.1} MB")
    } else {
        format!("{:.1} GB", size_mb / BYTES_PER_KB)
    }
}

/// "YYYY-MM-DD HH:MM" in UTC (std has no time zones).
fn format_modified(time: SystemTime) -> String {
    let seconds = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    };
    let (year, month, day) = civil_from_days(seconds.div_euclid(SECONDS_PER_DAY));
    let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", second_of_day / 3600, second_of_day % 3600 / 60)
}

/// Proleptic Gregorian (year, month, day) of the day `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, <https://howardhinnant.github.io/date_algorithms.html#civil_from_days>).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month as u32, day as u32)
}

/// The note shown when a folder has more than `max_entries` entries ("50 000": digits grouped).
fn truncation_note(max_entries: usize) -> String {
    let digits = max_entries.to_string();
    let grouped: String = (digits.chars().enumerate())
        .flat_map(|(i, digit)| [(i > 0 && (digits.len() - i).is_multiple_of(3)).then_some(' '), Some(digit)])
        .flatten()
        .collect();
    format!("Very large folder: showing the first {grouped} entries")
}

/// The home folder from the environment.
fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|home| !home.is_empty())
        .map(PathBuf::from)
}

/// Quick-access folders: Home, then Music, Desktop and Downloads where they exist, then "/".
fn quick_roots(home: Option<&Path>) -> Vec<(&'static str, PathBuf)> {
    let mut roots = Vec::new();
    if let Some(home) = home {
        roots.push(("Home", home.to_path_buf()));
        for name in ["Music", "Desktop", "Downloads"] {
            let dir = home.join(name);
            if dir.is_dir() {
                roots.push((name, dir));
            }
        }
    }
    roots.push(("/", PathBuf::from("/")));
    roots
}

/// `path` if it is a folder, else its nearest ancestor that is, else "/".
fn nearest_existing_dir(path: &Path) -> PathBuf {
    let path = normalize(path);
    path.ancestors().find(|dir| dir.is_dir()).map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

/// Replaces a leading "~" with the home folder.
fn expand_home(text: &str) -> PathBuf {
    match (text.strip_prefix('~'), home_dir()) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            home.join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(text),
    }
}

/// Removes "." and resolves ".." lexically (so the Parent button means what the path shows).
fn normalize(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other.as_os_str()),
        }
    }
    normal
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui::{Event, Key, Modifiers, PointerButton};
    use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

    /// A fresh folder under the system temp folder holding empty files and folders (names
    /// ending in "/"), removed with its contents on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        /// Creates the folder and `names` in it.
        fn with(names: &[&str]) -> Self {
            static COUNT: AtomicUsize = AtomicUsize::new(0);
            let n = COUNT.fetch_add(1, AtomicOrdering::Relaxed);
            let dir = Self(std::env::temp_dir().join(format!("parity-browser-{}-{n}", std::process::id())));
            fs::create_dir_all(&dir.0).expect("create temp dir");
            for name in names {
                match name.strip_suffix('/') {
                    Some(folder) => fs::create_dir_all(dir.0.join(folder)).expect("create folder"),
                    None => fs::write(dir.0.join(name), b"").expect("create file"),
                }
            }
            dir
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Names listed in `dir` with `options`.
    fn listed(dir: &Path, options: &ListOptions) -> Vec<String> {
        let folder = read_folder(dir, MAX_ENTRIES).expect("read folder");
        visible_entries(&folder.entries, options).iter().map(|&i| folder.entries[i].name.clone()).collect()
    }

    /// Listing row showing `name`.
    fn row_of(browser: &FileBrowser, name: &str) -> usize {
        browser.visible.iter().position(|&i| browser.folder.entries[i].name == name).expect("row listed")
    }

    #[test]
    fn natural_order_is_numeric_and_case_insensitive() {
        let mut names =
            ["track 10", "Track 2", "track 1", "b", "A", "track 02", "Track 1b", "a", "é2", "É10"];
        names.sort_by(|a, b| natural_cmp(a, b));
        let sorted = ["A", "a", "b", "track 1", "Track 1b", "Track 2", "track 02", "track 10", "é2", "É10"];
        assert_eq!(names, sorted);
    }

    #[test]
    fn folders_first_then_files_with_audio_hidden_and_substring_filters() {
        let dir = TempDir::with(&[
            "Zeta/",
            "alpha/",
            "beta 10/",
            "beta 9/",
            "Take 10.wav",
            "take 2.WAV",
            "Take 1.flac",
            "b.txt",
            "d",
            ".hidden.wav",
            ".cache/",
            "Final MIX.aiff",
            "premix.Mp3",
        ]);
        let mut options = ListOptions::default();
        let audio = ["Final MIX.aiff", "premix.Mp3", "Take 1.flac", "take 2.WAV", "Take 10.wav"];
        let folders = ["alpha", "beta 9", "beta 10", "Zeta"];
        assert_eq!(listed(&dir.0, &options), [&folders[..], &audio[..]].concat());
        options.audio_only = false;
        let all = ["b.txt", "d", "Final MIX.aiff", "premix.Mp3", "Take 1.flac", "take 2.WAV", "Take 10.wav"];
        assert_eq!(listed(&dir.0, &options), [&folders[..], &all[..]].concat());
        options.show_hidden = true;
        assert_eq!(listed(&dir.0, &options)[..2], [".cache", "alpha"]);
        assert_eq!(listed(&dir.0, &options).len(), 13);
        options.filter = " mix ".into();
        assert_eq!(listed(&dir.0, &options), ["Final MIX.aiff", "premix.Mp3"]);
        for ext in AUDIO_EXTENSIONS {
            assert!(is_audio_file(Path::new(&format!("x.{}", ext.to_uppercase()))), "{ext}");
        }
        assert!(!is_audio_file(Path::new("wav")) && !is_audio_file(Path::new("x.wav.txt")));
    }

    #[test]
    fn large_folders_are_capped_with_a_note() {
        let dir = TempDir::with(&["1.wav", "2.wav", "3.wav", "4.wav", "5.wav"]);
        let exact = read_folder(&dir.0, 5).expect("read");
        assert!(!exact.truncated && exact.entries.len() == 5);
        let browser = FileBrowser::with_max_entries(Some(dir.0.clone()), 3);
        assert!(browser.folder.truncated && browser.visible.len() == 3);
        assert_eq!(truncation_note(browser.max_entries), "Very large folder: showing the first 3 entries");
        assert!(truncation_note(MAX_ENTRIES).contains("showing the first 50 000"));
    }

    #[test]
    fn unreadable_folder_shows_an_error_or_lists_for_root() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::with(&["locked/", "locked/inside.wav"]);
        let locked = dir.0.join("locked");
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).expect("chmod");
        let os_lets_us_read = fs::read_dir(&locked).is_ok(); // root (CAP_DAC_OVERRIDE) reads anyway
        let mut browser = FileBrowser::new(Some(dir.0.clone()));
        let opened = browser.activate(row_of(&browser, "locked"));
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).expect("chmod back");
        assert!(opened.is_none());
        if os_lets_us_read {
            assert_eq!(browser.current_dir(), locked, "root lists a mode-000 folder");
            assert!(browser.error.is_none() && browser.visible.len() == 1);
        } else {
            assert_eq!(browser.current_dir(), dir.0, "stays where it was, listing kept");
            let error = browser.error.clone().unwrap_or_default();
            assert!(error.starts_with("Cannot read") && error.contains("ermission denied"), "{error}");
            assert_eq!(browser.visible.len(), 1);
        }
    }

    #[test]
    fn vanished_folder_falls_back_to_parent_on_refresh() {
        let dir = TempDir::with(&["a/b/"]);
        let (a, b) = (dir.0.join("a"), dir.0.join("a/b"));
        let mut browser = FileBrowser::new(Some(b.clone()));
        assert_eq!(browser.current_dir(), b);
        fs::remove_dir(&b).expect("remove");
        browser.refresh();
        assert_eq!(browser.current_dir(), a);
        assert!(browser.error.as_deref().is_some_and(|e| e.contains("no longer exists")));
        let missing = FileBrowser::new(Some(dir.0.join("a/x/y")));
        assert_eq!(missing.current_dir(), a, "start dir falls back to its nearest ancestor");
    }

    #[test]
    fn broken_links_are_listed_and_refused() {
        let dir = TempDir::with(&["real.wav", "real/"]);
        for (target, link) in [("missing.wav", "gone.wav"), ("real.wav", "link.wav"), ("real", "folder link")]
        {
            std::os::unix::fs::symlink(dir.0.join(target), dir.0.join(link)).expect("symlink");
        }
        let mut browser = FileBrowser::new(Some(dir.0.clone()));
        let folder_link = browser.visible[row_of(&browser, "folder link")];
        assert_eq!(browser.folder.entries[folder_link].kind, EntryKind::Folder, "links are followed");
        let gone = row_of(&browser, "gone.wav");
        assert_eq!(browser.folder.entries[browser.visible[gone]].kind, EntryKind::BrokenLink);
        assert_eq!(browser.activate(gone), None);
        assert!(browser.error.as_deref().is_some_and(|e| e.contains("broken link")));
        assert!(browser.recent().is_empty());
        assert_eq!(browser.activate(row_of(&browser, "link.wav")), Some(dir.0.join("link.wav")));
        assert!(browser.error.is_none());
    }

    #[test]
    fn non_audio_files_are_refused_and_typed_paths_navigate_or_pick() {
        let dir = TempDir::with(&["notes.txt", "sub/", "sub/song.flac"]);
        let mut browser = FileBrowser::new(Some(dir.0.clone()));
        assert_eq!(browser.pick(dir.0.join("notes.txt")), None);
        assert!(browser.error.as_deref().is_some_and(|e| e.contains("not an audio file")));
        browser.path_text = "sub/../sub".into();
        assert_eq!(browser.submit_typed_path(), None);
        assert_eq!(browser.current_dir(), dir.0.join("sub"));
        browser.path_text = "nope.wav".into();
        assert_eq!(browser.submit_typed_path(), None);
        assert!(browser.error.as_deref().is_some_and(|e| e.starts_with("Cannot open")));
        browser.set_dir(dir.0.clone());
        browser.path_text = dir.0.join("sub/song.flac").display().to_string();
        assert_eq!(browser.submit_typed_path(), Some(dir.0.join("sub/song.flac")));
        assert_eq!(browser.current_dir(), dir.0.join("sub"), "shows the picked file's folder");
        assert_eq!(browser.selected_path(), Some(dir.0.join("sub/song.flac")));
    }

    #[test]
    fn recent_list_is_most_recent_first_unique_and_capped() {
        let mut recent = Vec::new();
        for n in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 5] {
            push_recent(&mut recent, PathBuf::from(format!("/{n}.wav")));
        }
        let expected = ["/5.wav", "/9.wav", "/8.wav", "/7.wav", "/6.wav", "/4.wav", "/3.wav", "/2.wav"];
        assert_eq!(recent, expected.map(PathBuf::from));
        let mut browser = FileBrowser::new(None);
        browser.set_recent(["/a.wav", "/b.wav", "/a.wav", "/c.wav"].map(PathBuf::from).to_vec());
        assert_eq!(browser.recent(), ["/a.wav", "/b.wav", "/c.wav"].map(PathBuf::from));
        let dir = TempDir::with(&["x.wav"]);
        assert!(browser.pick(dir.0.join("x.wav")).is_some());
        assert_eq!(browser.recent()[0], dir.0.join("x.wav"));
        assert_eq!(browser.recent().len(), 4);
    }

    #[test]
    fn sizes_dates_and_selection_steps() {
        let sizes = [0, 1536, 1_023_948, 1_024_000, 44_100 * 4 * 180, 3 << 30].map(format_size);
        assert_eq!(sizes, ["0.0 KB", "1.5 KB", "999.9 KB", "1.0 MB", "30.3 MB", "3.0 GB"]);
        let at = |seconds: i64| {
            let offset = std::time::Duration::from_secs(seconds.unsigned_abs());
            format_modified(if seconds < 0 { UNIX_EPOCH - offset } else { UNIX_EPOCH + offset })
        };
        // Independent values: `date -u -d @SECONDS '+%F %R'`.
        let dates = [0, 951_782_400, 1_700_000_000, -60].map(at);
        assert_eq!(dates, ["1970-01-01 00:00", "2000-02-29 00:00", "2023-11-14 22:13", "1969-12-31 23:59"]);
        let steps =
            [(None, 1, 0), (None, 1, 5), (None, -1, 5), (Some(0), -1, 5), (Some(3), 10, 5), (Some(3), -2, 5)]
                .map(|(current, step, rows)| moved_selection(current, step, rows));
        assert_eq!(steps, [None, Some(0), Some(4), Some(0), Some(4), Some(1)]);
    }

    /// A headless egui context driving one browser frame by frame.
    struct Harness {
        /// The context, reused every frame.
        ctx: egui::Context,
        /// Screen size in points.
        screen_pt: egui::Vec2,
        /// Time of the next frame, in seconds.
        time_s: f64,
    }

    impl Harness {
        /// A context with a screen of `screen_pt` points at `zoom`, after two frames of `browser`
        /// (egui rescales the screen rect on the frame a zoom change takes effect).
        fn new(browser: &mut FileBrowser, screen_pt: egui::Vec2, zoom: f32) -> Self {
            let mut harness = Self { ctx: egui::Context::default(), screen_pt, time_s: 0.0 };
            harness.ctx.set_zoom_factor(zoom);
            harness.frame(browser, vec![]);
            harness.frame(browser, vec![]);
            harness
        }

        /// Runs one frame with `events`; returns what `show` returned.
        fn frame(&mut self, browser: &mut FileBrowser, events: Vec<Event>) -> Option<PathBuf> {
            let screen_rect = Some(egui::Rect::from_min_size(egui::Pos2::ZERO, self.screen_pt));
            let input = egui::RawInput { screen_rect, time: Some(self.time_s), events, ..Default::default() };
            self.time_s += 1.0 / 60.0;
            let mut picked = None;
            let output = self.ctx.run_ui(input, |ui| {
                egui::CentralPanel::default().show(ui, |ui| picked = browser.show(ui));
            });
            output.drop_without_applying_deltas();
            picked
        }

        /// Double-clicks the row showing `name` (which must be on screen); returns what was picked.
        fn double_click(&mut self, browser: &mut FileBrowser, name: &str) -> Option<PathBuf> {
            let row = row_of(browser, name);
            let rect = browser.drawn_rows.iter().find(|(r, _)| *r == row).expect("row drawn").1;
            let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, self.screen_pt);
            assert!(screen.contains_rect(rect), "row {rect:?} on screen {screen:?}");
            let pos = rect.center();
            let mut picked = self.frame(browser, vec![Event::PointerMoved(pos)]);
            for pressed in [true, false, true, false] {
                let modifiers = Modifiers::NONE;
                let click = Event::PointerButton { pos, button: PointerButton::Primary, pressed, modifiers };
                picked = picked.or(self.frame(browser, vec![click]));
            }
            picked
        }

        /// Presses and releases `key`; returns what was picked.
        fn key(&mut self, browser: &mut FileBrowser, key: Key) -> Option<PathBuf> {
            let event = |pressed| Event::Key {
                key,
                physical_key: None,
                pressed,
                repeat: false,
                modifiers: Modifiers::NONE,
            };
            self.frame(browser, vec![event(true)]).or(self.frame(browser, vec![event(false)]))
        }
    }

    #[test]
    fn double_click_picks_a_file_at_normal_and_150_percent_zoom() {
        let dir = TempDir::with(&["album/", "b.wav", "a take.wav", "readme.txt"]);
        // 420 x 480 points at 100 %; a 360 x 300 px side area at 150 % is 240 x 200 points.
        for (screen_pt, zoom) in [(egui::vec2(420.0, 480.0), 1.0), (egui::vec2(240.0, 200.0), 1.5)] {
            let mut browser = FileBrowser::new(Some(dir.0.clone()));
            let mut ui = Harness::new(&mut browser, screen_pt, zoom);
            assert_eq!(ui.double_click(&mut browser, "b.wav"), Some(dir.0.join("b.wav")), "zoom {zoom}");
            assert_eq!(browser.recent(), [dir.0.join("b.wav")]);
        }
    }

    #[test]
    fn down_enter_picks_and_double_click_and_backspace_navigate() {
        let dir = TempDir::with(&["take 10.wav", "Take 2.wav", "mixes/", "mixes/final.wav"]);
        let mut browser = FileBrowser::new(Some(dir.0.clone()));
        let mut ui = Harness::new(&mut browser, egui::vec2(420.0, 480.0), 1.0);
        assert_eq!(ui.key(&mut browser, Key::ArrowDown), None);
        assert_eq!(ui.key(&mut browser, Key::ArrowDown), None);
        assert_eq!(browser.selected_path(), Some(dir.0.join("Take 2.wav")));
        assert_eq!(ui.key(&mut browser, Key::Enter), Some(dir.0.join("Take 2.wav")));

        assert_eq!(ui.double_click(&mut browser, "mixes"), None);
        assert_eq!(browser.current_dir(), dir.0.join("mixes"));
        assert_eq!(ui.key(&mut browser, Key::ArrowDown), None);
        assert_eq!(ui.key(&mut browser, Key::Enter), Some(dir.0.join("mixes/final.wav")));
        assert_eq!(ui.key(&mut browser, Key::Backspace), None);
        assert_eq!(browser.current_dir(), dir.0);
        assert_eq!(browser.selected_path(), Some(dir.0.join("mixes")), "came-from folder selected");
    }

    #[test]
    fn big_folders_draw_only_the_visible_rows_and_scroll_to_the_selection() {
        let names: Vec<String> = (0..2000).map(|n| format!("take {n}.wav")).collect();
        let dir = TempDir::with(&names.iter().map(String::as_str).collect::<Vec<_>>());
        let mut browser = FileBrowser::new(Some(dir.0.clone()));
        let mut ui = Harness::new(&mut browser, egui::vec2(420.0, 480.0), 1.0);
        assert!((10..40).contains(&browser.drawn_rows.len()), "{} rows drawn", browser.drawn_rows.len());
        browser.select_path(&dir.0.join("take 1999.wav"));
        for _ in 0..30 {
            ui.frame(&mut browser, vec![]); // let the scroll animation finish
        }
        assert!(browser.drawn_rows.iter().any(|(row, _)| *row == 1999), "scrolled to the end");
        assert_eq!(ui.key(&mut browser, Key::ArrowUp), None);
        assert_eq!(browser.selected_path(), Some(dir.0.join("take 1998.wav")));
    }
}
