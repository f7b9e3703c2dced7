//! kiln's smallest example: one crates.io dependency, built to static
//! binaries for x86_64 and aarch64.
fn main() {
    let mut buffer = itoa::Buffer::new();
    let answer = buffer.format(6 * 7);
    println!("hello from a static {} binary: {answer}", std::env::consts::ARCH);
}
