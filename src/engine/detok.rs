//! Token ids to text, incrementally, exactly as transformers' `decode(ids, skip_special_tokens=True)`.
//!
//! Decoding each id alone is wrong twice over: byte-fallback tokens carry a fraction of a UTF-8
//! character (Korean takes three), and some decoders depend on neighbours. So the decoder keeps a
//! short window of ids, decodes the window, and emits only the text past what was already
//! emitted, holding back while the window ends in an incomplete character.

use std::sync::Arc;

use tokenizers::Tokenizer;

/// Decodes a growing list of ids into text deltas.
pub struct StreamDecoder {
    tokenizer: Arc<Tokenizer>,
    ids: Vec<u32>,
    /// Start of the window re-decoded for context.
    prefix_offset: usize,
    /// End of the ids whose text was already emitted.
    read_offset: usize,
}

impl StreamDecoder {
    pub fn new(tokenizer: Arc<Tokenizer>) -> Self {
        Self {
            tokenizer,
            ids: Vec::new(),
            prefix_offset: 0,
            read_offset: 0,
        }
    }

    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// Adds one id; returns the new text it completes, if any.
    pub fn push(&mut self, id: u32) -> Result<Option<String>, tokenizers::Error> {
        self.ids.push(id);
        let prefix = self.decode(self.prefix_offset, self.read_offset)?;
        let full = self.decode(self.prefix_offset, self.ids.len())?;
        if full.ends_with('\u{FFFD}') {
            return Ok(None);
        }
        match full.get(prefix.len()..) {
            Some(delta) if !delta.is_empty() => {
                let delta = delta.to_string();
                self.prefix_offset = self.read_offset;
                self.read_offset = self.ids.len();
                Ok(Some(delta))
            }
            _ => Ok(None),
        }
    }

    /// Whatever is still held back (an incomplete character at the very end), decoded as
    /// transformers would: replacement characters included.
    pub fn finish(&mut self) -> Result<String, tokenizers::Error> {
        let prefix = self.decode(self.prefix_offset, self.read_offset)?;
        let full = self.decode(self.prefix_offset, self.ids.len())?;
        self.prefix_offset = self.ids.len();
        self.read_offset = self.ids.len();
        Ok(full.strip_prefix(&prefix).unwrap_or(&full).to_string())
    }

    fn decode(&self, from: usize, to: usize) -> Result<String, tokenizers::Error> {
        self.tokenizer.decode(&self.ids[from..to], true)
    }
}
