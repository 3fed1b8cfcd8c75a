//! The deployment package of a Lambda function on a custom runtime (`provided.al2023`): a zip
//! of one executable entry, `bootstrap`. The CLI deploys this zip and the benchmarks measure
//! its size, so both make it here.

use std::io::Write;

use flate2::Compression;
use flate2::write::DeflateEncoder;

const DOS_DATE_1980_01_01: u16 = (1 << 5) | 1;
const UNIX_MODE_0755: u32 = 0o100_755;
const MADE_BY_UNIX: u16 = (3 << 8) | 20;
const VERSION_NEEDED: u16 = 20;
const METHOD_DEFLATE: u16 = 8;
const ENTRY_NAME: &[u8] = b"bootstrap";

/// The zip Lambda receives: one entry `bootstrap` holding `binary`, mode 0755 (Lambda runs it
/// only if it is executable), timestamp 1980-01-01 00:00, deflated at level 9. Nothing in it
/// depends on the clock or the file system, so the same binary always gives the same bytes.
///
/// # Panics
/// If `binary` is 4 GiB or larger (no Zip64); Lambda takes 250 MiB unzipped at the most.
pub fn lambda_zip(binary: &[u8]) -> Vec<u8> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(binary).expect("writing to a Vec");
    let data = encoder.finish().expect("writing to a Vec");
    let crc = crc32fast::hash(binary);
    let size = u32::try_from(binary.len()).expect("under 4 GiB (no Zip64)");
    let csize = u32::try_from(data.len()).expect("under 4 GiB (no Zip64)");
    let name_len = ENTRY_NAME.len() as u16;

    let mut out = Vec::with_capacity(data.len() + 128);
    // Local file header.
    out.extend_from_slice(&0x0403_4b50_u32.to_le_bytes());
    for v in [VERSION_NEEDED, 0, METHOD_DEFLATE, 0, DOS_DATE_1980_01_01] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in [crc, csize, size] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in [name_len, 0] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(ENTRY_NAME);
    out.extend_from_slice(&data);
    // Central directory: "made by" Unix, so the external attributes carry the file mode.
    let cd_offset = u32::try_from(out.len()).expect("under 4 GiB (no Zip64)");
    out.extend_from_slice(&0x0201_4b50_u32.to_le_bytes());
    for v in [
        MADE_BY_UNIX,
        VERSION_NEEDED,
        0,
        METHOD_DEFLATE,
        0,
        DOS_DATE_1980_01_01,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in [crc, csize, size] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in [name_len, 0, 0, 0, 0] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&(UNIX_MODE_0755 << 16).to_le_bytes());
    out.extend_from_slice(&0_u32.to_le_bytes());
    out.extend_from_slice(ENTRY_NAME);
    let cd_size = u32::try_from(out.len()).expect("under 4 GiB (no Zip64)") - cd_offset;
    // End of central directory.
    out.extend_from_slice(&0x0605_4b50_u32.to_le_bytes());
    for v in [0_u16, 0, 1, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0_u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use flate2::read::DeflateDecoder;

    use super::*;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    #[test]
    fn the_zip_is_deterministic_and_holds_an_executable_bootstrap() {
        let binary: Vec<u8> = (0..200_000_u32).map(|i| (i * 7 % 253) as u8).collect();
        let zip = lambda_zip(&binary);
        assert_eq!(zip, lambda_zip(&binary), "same input, same bytes");

        assert_eq!(u32_at(&zip, 0), 0x0403_4b50);
        assert_eq!(u16_at(&zip, 8), 8, "deflate");
        assert_eq!(u16_at(&zip, 10), 0, "00:00:00");
        assert_eq!(u16_at(&zip, 12), (1 << 5) | 1, "1980-01-01");
        let csize = u32_at(&zip, 18) as usize;
        assert_eq!(u32_at(&zip, 22) as usize, binary.len());
        assert_eq!(&zip[30..39], b"bootstrap");
        let mut unpacked = Vec::new();
        DeflateDecoder::new(&zip[39..39 + csize])
            .read_to_end(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, binary);
        assert_eq!(u32_at(&zip, 14), crc32fast::hash(&binary));

        let eocd = zip.len() - 22;
        assert_eq!(u32_at(&zip, eocd), 0x0605_4b50);
        let cd = u32_at(&zip, eocd + 16) as usize;
        assert_eq!(u32_at(&zip, cd), 0x0201_4b50);
        assert_eq!(u16_at(&zip, cd + 4) >> 8, 3, "made on Unix");
        assert_eq!(u32_at(&zip, cd + 38) >> 16, 0o100_755, "mode 0755");
    }
}
