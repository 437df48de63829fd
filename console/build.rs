// The front end is embedded at compile time (rust-embed): a new Vite build has new file
// names, so the binary must be rebuilt whenever web/dist changes.
fn main() {
    println!("cargo:rerun-if-changed=web/dist");
}
