//! COMPRESS=DEFLATE (RFC 4978): raw deflate in both directions, sync-flushed after each write
//! burst so the server sees complete commands.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Output grows by this much per step while (de)compressing.
const STEP: usize = 32 * 1024;

pub struct Deflater(Compress);
pub struct Inflater(Decompress);

impl Default for Deflater {
    fn default() -> Self {
        Deflater(Compress::new(Compression::fast(), false))
    }
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater(Decompress::new(false))
    }
}

impl Deflater {
    /// Compresses `input` and sync-flushes, appending to `out`.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        let mut consumed = 0usize;
        loop {
            out.reserve(STEP);
            let before_in = self.0.total_in();
            let before_out = out.len();
            let status = self
                .0
                .compress_vec(&input[consumed..], out, FlushCompress::Sync)
                .map_err(std::io::Error::other)?;
            consumed += (self.0.total_in() - before_in) as usize;
            let produced = out.len() - before_out;
            // Done when all input is consumed and the flush did not fill the buffer.
            if consumed >= input.len() && out.len() < out.capacity() {
                return Ok(());
            }
            if produced == 0 && consumed >= input.len() && status != Status::Ok {
                return Ok(());
            }
        }
    }
}

impl Inflater {
    /// Decompresses `input`, appending to `out`.
    pub fn decompress(&mut self, input: &[u8], out: &mut bytes::BytesMut) -> std::io::Result<()> {
        let mut consumed = 0usize;
        let mut tmp: Vec<u8> = Vec::with_capacity(STEP);
        loop {
            tmp.clear();
            let before_in = self.0.total_in();
            let status = self
                .0
                .decompress_vec(&input[consumed..], &mut tmp, FlushDecompress::Sync)
                .map_err(std::io::Error::other)?;
            consumed += (self.0.total_in() - before_in) as usize;
            out.extend_from_slice(&tmp);
            if status == Status::StreamEnd {
                return Ok(());
            }
            if consumed >= input.len() && tmp.len() < tmp.capacity() {
                return Ok(());
            }
            if tmp.is_empty() && consumed < input.len() && (self.0.total_in() - before_in) == 0 {
                return Err(std::io::Error::other("deflate stream stuck"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_in_pieces() {
        let mut d = Deflater::default();
        let mut i = Inflater::default();
        let mut wire = Vec::new();
        let mut got = bytes::BytesMut::new();
        let mut expected = Vec::new();
        for n in 0..50u32 {
            let msg: Vec<u8> = format!("a{n} APPEND INBOX {{100}}\r\n")
                .into_bytes()
                .into_iter()
                .chain((0..(n * 997)).map(|x| (x % 251) as u8))
                .collect();
            expected.extend_from_slice(&msg);
            let start = wire.len();
            d.compress(&msg, &mut wire).expect("compress");
            // Each flushed burst is decodable on its own.
            for piece in wire[start..].chunks(7) {
                i.decompress(piece, &mut got).expect("decompress");
            }
            assert_eq!(&got[..], &expected[..]);
        }
    }
}
