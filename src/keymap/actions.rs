//! Every action a key can trigger, the layer it belongs to, its default chords, where the help
//! overlay lists it, and its one-line description: one table, read by the keymap and the help.

/// Everything a key can do. The snake_case name in [`DEFAULTS`] is the config key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Send,
    Newline,
    Stop,
    Regenerate,
    EditLast,
    CopyAnswer,
    CopyCode,
    ScrollUp,
    ScrollDown,
    PageUp,
    PageDown,
    Top,
    Bottom,
    ToggleMouse,
    Help,
    Sessions,
    Settings,
    LoadPrevious,
    Quit,
    Interrupt,
    Suspend,
    CaretLeft,
    CaretRight,
    CaretUp,
    CaretDown,
    LineStart,
    LineEnd,
    WordLeft,
    WordRight,
    DeleteBack,
    DeleteForward,
    DeleteWordBack,
    ClearInput,
    // In a list pane (sessions):
    ListUp,
    ListDown,
    ListPageUp,
    ListPageDown,
    ListFirst,
    ListLast,
    Open,
    Close,
    NewChat,
    Rename,
    Delete,
    Duplicate,
    Search,
    // In the settings pane:
    Decrease,
    Increase,
    Edit,
    Greedy,
    ResetField,
    TestEndpoint,
    Apply,
    SaveDefault,
}

/// Which keys are looked up where. `Global` is decided before any other layer, whatever is on
/// screen; the others apply while their screen or pane has the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    Global,
    Chat,
    Sessions,
    Settings,
}

impl Layer {
    /// The config table its overrides live in (`[keys]` for the chat screen and global keys).
    pub fn table(self) -> Option<&'static str> {
        match self {
            Self::Global | Self::Chat => None,
            Self::Sessions => Some("sessions"),
            Self::Settings => Some("settings"),
        }
    }
}

/// Where an action is listed in the help overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Chat,
    Scroll,
    Edit,
    App,
    SessionsPane,
    SettingsPane,
}

impl Section {
    pub fn title(self) -> &'static str {
        match self {
            Self::Chat => "Chat",
            Self::Scroll => "Scroll",
            Self::Edit => "Editing",
            Self::App => "Application (work everywhere)",
            Self::SessionsPane => "Sessions pane",
            Self::SettingsPane => "Settings pane",
        }
    }
}

/// One row of the table.
pub struct Binding {
    pub action: Action,
    pub layer: Layer,
    pub name: &'static str,
    pub chords: &'static [&'static str],
    pub section: Section,
    pub description: &'static str,
}

const fn row(
    action: Action,
    layer: Layer,
    name: &'static str,
    chords: &'static [&'static str],
    section: Section,
    description: &'static str,
) -> Binding {
    Binding {
        action,
        layer,
        name,
        chords,
        section,
        description,
    }
}

use Layer::{Chat, Global, Sessions as SessionsLayer, Settings as SettingsLayer};

/// Every binding, in help-overlay order.
#[rustfmt::skip]
pub const DEFAULTS: &[Binding] = &[
    row(Action::Send, Chat, "send", &["enter"], Section::Chat, "send the message"),
    row(Action::Newline, Chat, "newline", &["ctrl-j", "shift-enter", "alt-enter"], Section::Chat, "new line in the message"),
    row(Action::Stop, Chat, "stop", &["esc"], Section::Chat, "stop the answer, keep its text; close a banner"),
    row(Action::Regenerate, Chat, "regenerate", &["ctrl-r"], Section::Chat, "answer the last message again"),
    row(Action::EditLast, Chat, "edit_last", &["ctrl-e"], Section::Chat, "edit the last message and resend it"),
    row(Action::CopyAnswer, Chat, "copy_answer", &["ctrl-y"], Section::Chat, "copy the last answer"),
    row(Action::CopyCode, Chat, "copy_code", &["alt-y"], Section::Chat, "copy a code block of the last answer"),
    row(Action::ScrollUp, Chat, "scroll_up", &["ctrl-up", "shift-up"], Section::Scroll, "scroll up a line (or the mouse wheel)"),
    row(Action::ScrollDown, Chat, "scroll_down", &["ctrl-down", "shift-down"], Section::Scroll, "scroll down a line"),
    row(Action::PageUp, Chat, "page_up", &["pageup"], Section::Scroll, "scroll up a page"),
    row(Action::PageDown, Chat, "page_down", &["pagedown"], Section::Scroll, "scroll down a page"),
    row(Action::Top, Chat, "top", &["ctrl-home"], Section::Scroll, "go to the first message"),
    row(Action::Bottom, Chat, "bottom", &["ctrl-end"], Section::Scroll, "go to the newest text and follow it"),
    row(Action::ToggleMouse, Chat, "toggle_mouse", &["f2", "alt-m"], Section::App, "mouse capture on/off (off: select text)"),
    row(Action::Help, Chat, "help", &["f1", "?"], Section::App, "this help"),
    row(Action::Sessions, Chat, "sessions", &["ctrl-o"], Section::App, "saved sessions: open, search, manage"),
    row(Action::Settings, Chat, "settings", &["ctrl-s", "f3"], Section::App, "settings: model, quantization, sampling, look"),
    row(Action::LoadPrevious, Chat, "load_previous", &["f5"], Section::App, "load back the last model that worked"),
    row(Action::Quit, Global, "quit", &["ctrl-q"], Section::App, "quit (asks again if the message box holds text)"),
    row(Action::Interrupt, Global, "interrupt", &["ctrl-c"], Section::App, "stop the answer; twice quits"),
    row(Action::Suspend, Global, "suspend", &["ctrl-z"], Section::App, "suspend to the shell (`fg` resumes)"),
    row(Action::CaretLeft, Chat, "left", &["left"], Section::Edit, "caret left"),
    row(Action::CaretRight, Chat, "right", &["right"], Section::Edit, "caret right"),
    row(Action::CaretUp, Chat, "up", &["up"], Section::Edit, "caret up a line"),
    row(Action::CaretDown, Chat, "down", &["down"], Section::Edit, "caret down a line"),
    row(Action::LineStart, Chat, "line_start", &["home", "ctrl-a"], Section::Edit, "start of the line"),
    row(Action::LineEnd, Chat, "line_end", &["end"], Section::Edit, "end of the line"),
    row(Action::WordLeft, Chat, "word_left", &["ctrl-left", "alt-b"], Section::Edit, "previous word"),
    row(Action::WordRight, Chat, "word_right", &["ctrl-right", "alt-f"], Section::Edit, "next word"),
    row(Action::DeleteBack, Chat, "delete_back", &["backspace"], Section::Edit, "delete the character before the caret"),
    row(Action::DeleteForward, Chat, "delete_forward", &["delete"], Section::Edit, "delete the character after the caret"),
    row(Action::DeleteWordBack, Chat, "delete_word_back", &["ctrl-w", "alt-backspace"], Section::Edit, "delete the word before the caret"),
    row(Action::ClearInput, Chat, "clear_input", &["ctrl-u"], Section::Edit, "clear the message box"),
    row(Action::ListUp, SessionsLayer, "up", &["up"], Section::SessionsPane, "previous session"),
    row(Action::ListDown, SessionsLayer, "down", &["down"], Section::SessionsPane, "next session"),
    row(Action::ListPageUp, SessionsLayer, "page_up", &["pageup"], Section::SessionsPane, "ten sessions up"),
    row(Action::ListPageDown, SessionsLayer, "page_down", &["pagedown"], Section::SessionsPane, "ten sessions down"),
    row(Action::ListFirst, SessionsLayer, "first", &["home"], Section::SessionsPane, "the newest session"),
    row(Action::ListLast, SessionsLayer, "last", &["end"], Section::SessionsPane, "the oldest session"),
    row(Action::Open, SessionsLayer, "open", &["enter"], Section::SessionsPane, "open the selected session"),
    row(Action::Close, SessionsLayer, "close", &["esc", "ctrl-o"], Section::SessionsPane, "close the pane (in a search: clear it)"),
    row(Action::NewChat, SessionsLayer, "new", &["n"], Section::SessionsPane, "start a new chat"),
    row(Action::Rename, SessionsLayer, "rename", &["r"], Section::SessionsPane, "rename the selected session"),
    row(Action::Delete, SessionsLayer, "delete", &["d"], Section::SessionsPane, "delete the selected session (asks y first)"),
    row(Action::Duplicate, SessionsLayer, "duplicate", &["c"], Section::SessionsPane, "copy the selected session"),
    row(Action::Search, SessionsLayer, "search", &["/"], Section::SessionsPane, "search (or just type)"),
    row(Action::ListUp, SettingsLayer, "up", &["up", "k"], Section::SettingsPane, "previous setting"),
    row(Action::ListDown, SettingsLayer, "down", &["down", "j"], Section::SettingsPane, "next setting"),
    row(Action::ListFirst, SettingsLayer, "first", &["home"], Section::SettingsPane, "the first setting"),
    row(Action::ListLast, SettingsLayer, "last", &["end"], Section::SettingsPane, "the last setting"),
    row(Action::Decrease, SettingsLayer, "decrease", &["left", "-"], Section::SettingsPane, "smaller value, or the previous choice"),
    row(Action::Increase, SettingsLayer, "increase", &["right", "+"], Section::SettingsPane, "larger value, or the next choice"),
    row(Action::Edit, SettingsLayer, "edit", &["enter"], Section::SettingsPane, "type a value; the system prompt opens below"),
    row(Action::Greedy, SettingsLayer, "greedy", &["g"], Section::SettingsPane, "greedy recipe: temperature 0, penalty 1.05"),
    row(Action::ResetField, SettingsLayer, "reset", &["r"], Section::SettingsPane, "this setting back to its default"),
    row(Action::TestEndpoint, SettingsLayer, "test_endpoint", &["t"], Section::SettingsPane, "connect to the Runs on server, list its models"),
    row(Action::Apply, SettingsLayer, "apply", &["a"], Section::SettingsPane, "apply to this session (a new model loads)"),
    row(Action::SaveDefault, SettingsLayer, "save_default", &["s"], Section::SettingsPane, "apply and save as the default in config.toml"),
    row(Action::Close, SettingsLayer, "close", &["esc", "ctrl-s", "f3"], Section::SettingsPane, "close without applying"),
];

/// The first row of `action` (an action may be bound in several layers).
pub fn binding(action: Action) -> &'static Binding {
    // Every action has a row; `every_action_has_a_row` guards it.
    DEFAULTS.iter().find(|b| b.action == action).unwrap_or(&DEFAULTS[0])
}

impl Action {
    pub fn name(self) -> &'static str {
        binding(self).name
    }
    pub fn description(self) -> &'static str {
        binding(self).description
    }
    pub fn section(self) -> Section {
        binding(self).section
    }
}

/// The action called `name` in the config table of `layers`.
pub fn find(layers: &[Layer], name: &str) -> Option<&'static Binding> {
    DEFAULTS.iter().find(|b| layers.contains(&b.layer) && b.name == name)
}
