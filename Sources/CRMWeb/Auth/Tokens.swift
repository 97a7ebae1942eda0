/// Random tokens and their comparison.
enum Tokens {
    /// `bytes` random bytes in lowercase hex. SystemRandomNumberGenerator is
    /// the kernel's CSPRNG (getrandom), which session ids need.
    static func random(bytes: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        var out = ""
        out.reserveCapacity(bytes * 2)
        for _ in 0..<bytes {
            let byte = UInt8.random(in: .min ... .max, using: &generator)
            out += String(byte >> 4, radix: 16) + String(byte & 0xF, radix: 16)
        }
        return out
    }

    /// Equal strings, in time that depends on the lengths only, so a token
    /// cannot be guessed byte by byte from answer times.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<x.count { difference |= x[i] ^ y[i] }
        return difference == 0
    }

    /// A 64-hex-digit token, as `random()` makes them; anything else from a
    /// cookie is no session at all.
    static func isWellFormed(_ token: String) -> Bool {
        token.utf8.count == 64 && token.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
