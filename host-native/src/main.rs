fn main() {
    println!("tidings: under construction");
}
