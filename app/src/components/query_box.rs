//! The runs list's search box: the query language (docs/query.md) as the person
//! types it. The browser parses with the same parser as the server, so a mistake
//! is shown under the field at once, with what was expected and where; and it
//! suggests qualifiers, statuses and the account's agents for the word at the
//! cursor (a combobox: arrows choose, Enter or Tab take, Escape closes).

use leptos::prelude::*;
use model::query::{completions, Completion};
use model::{Query, QueryError};

/// Where a text's `utf16` code units end, in characters (the parser's offsets).
fn char_offset(text: &str, utf16: usize) -> usize {
    let mut units = 0;
    for (index, c) in text.chars().enumerate() {
        if units >= utf16 {
            return index;
        }
        units += c.len_utf16();
    }
    text.chars().count()
}

/// The same position in UTF-16 code units (the browser's selection offsets).
fn utf16_offset(text: &str, chars: usize) -> u32 {
    text.chars().take(chars).map(char::len_utf16).sum::<usize>() as u32
}

/// The text with a completion taken: its range replaced, and where the cursor goes.
pub fn apply_completion(text: &str, completion: &Completion) -> (String, usize) {
    let chars: Vec<char> = text.chars().collect();
    let start = completion.replace.start.min(chars.len());
    let end = completion.replace.end.clamp(start, chars.len());
    let mut out: String = chars[..start].iter().collect();
    out.push_str(&completion.insert);
    let cursor = out.chars().count();
    out.extend(&chars[end..]);
    (out, cursor)
}

/// The search field. `value` is the query as the URL has it; `problem` is kept
/// up to date for the form, which does not search with a query that cannot parse.
#[component]
pub fn QueryBox(
    node_ref: NodeRef<leptos::html::Input>,
    value: Signal<String>,
    agents: Signal<Vec<String>>,
    problem: RwSignal<Option<QueryError>>,
) -> impl IntoView {
    let text = RwSignal::new(value.get_untracked());
    Effect::new(move |_| text.set(value.get()));
    let cursor = RwSignal::new(0usize);
    let open = RwSignal::new(false);
    let active = RwSignal::new(0usize);
    Effect::new(move |_| problem.set(Query::parse(&text.get()).err()));
    let suggestions = Memo::new(move |_| {
        if !open.get() {
            return Vec::new();
        }
        completions(&text.get(), cursor.get(), &agents.get())
    });
    let read_input = move || {
        if let Some(input) = node_ref.get() {
            let typed = input.value();
            let at = input
                .selection_start()
                .ok()
                .flatten()
                .map(|at| char_offset(&typed, at as usize))
                .unwrap_or_else(|| typed.chars().count());
            cursor.set(at);
            text.set(typed);
        }
    };
    let take = move |index: usize| {
        let Some(completion) = suggestions.get_untracked().get(index).cloned() else {
            return;
        };
        let (changed, at) = apply_completion(&text.get_untracked(), &completion);
        if let Some(input) = node_ref.get() {
            input.set_value(&changed);
            let position = utf16_offset(&changed, at);
            let _ = input.set_selection_range(position, position);
        }
        text.set(changed);
        cursor.set(at);
        active.set(0);
        // A value (after `status:`) is complete; a qualifier wants its value next.
        open.set(completion.insert.ends_with(':'));
    };
    let keydown = move |event: leptos::ev::KeyboardEvent| {
        let count = suggestions.get_untracked().len();
        match event.key().as_str() {
            "ArrowDown" if count > 0 => {
                event.prevent_default();
                active.update(|active| *active = (*active + 1) % count);
            }
            "ArrowUp" if count > 0 => {
                event.prevent_default();
                active.update(|active| *active = (*active + count - 1) % count);
            }
            "Enter" | "Tab" if count > 0 => {
                event.prevent_default();
                take(active.get_untracked());
            }
            "Escape" if count > 0 => {
                event.prevent_default();
                open.set(false);
            }
            _ => {}
        }
    };
    let expanded = move || (!suggestions.get().is_empty()).to_string();
    let active_id =
        move || (!suggestions.get().is_empty()).then(|| format!("q-option-{}", active.get()));
    view! {
        <div class="query-box">
            <input node_ref=node_ref id="q-input" type="search" name="q" prop:value=move || text.get()
                role="combobox" aria-autocomplete="list" aria-controls="q-suggestions"
                aria-expanded=expanded aria-activedescendant=active_id
                aria-invalid=move || problem.get().is_some().to_string()
                aria-describedby="q-problem" autocomplete="off" spellcheck="false"
                placeholder="Text, or status:failed agent:crawler input.company_name:Stripe"
                on:input=move |_| { read_input(); open.set(true); active.set(0); }
                on:click=move |_| read_input()
                on:keydown=keydown
                on:blur=move |_| open.set(false) />
            <ul id="q-suggestions" class="completions" role="listbox" aria-label="Suggestions"
                hidden=move || suggestions.get().is_empty()>
                {move || suggestions.get().into_iter().enumerate().map(|(index, completion)| view! {
                    <li id=format!("q-option-{index}") role="option"
                        aria-selected=move || (active.get() == index).to_string()
                        on:mousedown=move |event| { event.prevent_default(); take(index); }>
                        <span class="completion-label">{completion.label}</span>
                        <span class="completion-detail">{completion.detail}</span>
                    </li>
                }).collect_view()}
            </ul>
            <p id="q-problem" class="query-problem" role="alert" hidden=move || problem.get().is_none()>
                {move || problem.get().map(|problem| format!("{} (at character {})", problem.message, problem.position + 1))}
            </p>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_convert_between_characters_and_utf16() {
        let text = "input.city:Zürich 😀x";
        assert_eq!(char_offset(text, 0), 0);
        let emoji = text.chars().position(|c| c == '😀').unwrap();
        let units = utf16_offset(text, emoji + 1);
        assert_eq!(units as usize, text.chars().take(emoji).count() + 2);
        assert_eq!(char_offset(text, units as usize), emoji + 1);
    }

    #[test]
    fn a_completion_replaces_its_range_and_puts_the_cursor_after_it() {
        let completion = Completion {
            label: "status:".into(),
            detail: String::new(),
            insert: "status:".into(),
            replace: 4..7,
        };
        assert_eq!(
            apply_completion("foo sta bar", &completion),
            ("foo status: bar".to_string(), 11)
        );
    }
}
