//! Extraction of code blocks for copying: the code exactly as the model wrote it,
//! numbered like the `[n]` labels of the rendering.

use pulldown_cmark::{CodeBlockKind, Event, Tag, TagEnd};

use super::code::fence_language;

/// One code block of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBlock {
    /// 1-based, matching the `[n]` label shown on the block.
    pub number: usize,
    /// First word of the fence info string (`rust` for ```` ```rust,ignore ````); `None` for
    /// indented blocks and bare fences.
    pub language: Option<String>,
    /// The raw code, unsanitized, without frame or fence; ends with a newline per line.
    pub code: String,
}

/// Returns every code block of `markdown` in order, including an unclosed (still
/// streaming) fence. The whole text is parsed, past the render cap, so a block that
/// straddles the cap is still copied whole; blocks beyond the cap, which the rendering
/// shows as plain text without a label, come last with higher numbers.
pub fn code_blocks(markdown: &str) -> Vec<CodeBlock> {
    let mut blocks = Vec::new();
    let mut current: Option<CodeBlock> = None;
    for event in super::parser(markdown) {
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let language = match kind {
                    CodeBlockKind::Fenced(info) => fence_language(&info),
                    CodeBlockKind::Indented => None,
                };
                let number = blocks.len() + 1;
                current = Some(CodeBlock {
                    number,
                    language,
                    code: String::new(),
                });
            }
            Event::Text(text) => {
                if let Some(block) = &mut current {
                    block.code.push_str(&text);
                }
            }
            Event::End(TagEnd::CodeBlock) => blocks.extend(current.take()),
            _ => {}
        }
    }
    blocks.extend(current);
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_raw_code_with_numbers() {
        let md =
            "Intro\n\n```rust\nfn main() {\n\tprintln!(\"\u{202E}hi\");\n}\n```\n\n    indented\n\n~~~py\nprint(1)";
        let blocks = code_blocks(md);
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0].number, 1);
        assert_eq!(blocks[0].language.as_deref(), Some("rust"));
        assert_eq!(blocks[0].code, "fn main() {\n\tprintln!(\"\u{202E}hi\");\n}\n");
        assert_eq!((blocks[1].number, blocks[1].language.as_deref()), (2, None));
        assert_eq!(blocks[1].code, "indented\n");
        assert_eq!(blocks[2].code, "print(1)", "an unclosed fence runs to the end");
    }

    #[test]
    fn code_in_lists_loses_only_the_list_indent() {
        let blocks = code_blocks("- item\n\n  ```sh\n  ls -la\n    indented\n  ```\n");
        assert_eq!(blocks[0].code, "ls -la\n  indented\n");
    }
}
