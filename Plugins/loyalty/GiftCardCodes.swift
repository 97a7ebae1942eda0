import CRMPluginKit

/// Gift-card codes: 16 symbols of Crockford's base 32 (80 bits from the
/// system's CSPRNG, `SystemRandomNumberGenerator`: getrandom(2) on Linux)
/// and a Luhn mod 32 check symbol, 17 in all, shown as
/// XXXX-XXXX-XXXX-XXXXX. Only HMAC-SHA256(key, code) is stored, so a
/// lookup needs the whole code and the database alone reveals none.
enum GiftCardCodes {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    static let randomSymbols = 16
    static let length = randomSymbols + 1

    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        var values: [Int] = []
        // 32 divides 2^64, so 5-bit slices of uniform words are uniform.
        while values.count < randomSymbols {
            var word = generator.next()
            for _ in 0..<12 where values.count < randomSymbols {
                values.append(Int(word & 31))
                word >>= 5
            }
        }
        values.append(checkValue(values))
        return String(decoding: values.map { alphabet[$0] }, as: UTF8.self)
    }

    /// The Luhn mod N check value (N = 32) of `values`.
    static func checkValue(_ values: [Int]) -> Int {
        var factor = 2, sum = 0
        for value in values.reversed() {
            let addend = factor * value
            sum += addend / 32 + addend % 32
            factor = factor == 2 ? 1 : 2
        }
        return (32 - sum % 32) % 32
    }

    static func display(_ code: String) -> String {
        let c = Array(code)
        guard c.count == length else { return code }
        return "\(String(c[0..<4]))-\(String(c[4..<8]))-\(String(c[8..<12]))-\(String(c[12...]))"
    }

    /// The code's symbol values once '-' and spaces are dropped, case
    /// folded and Crockford's look-alikes mapped (O to 0, I and L to 1).
    /// INVALID_ARGUMENT for anything that cannot be a code at all.
    static func parse(_ text: String) throws -> [Int] {
        var values: [Int] = []
        for byte in text.utf8 where byte != UInt8(ascii: "-") && byte != UInt8(ascii: " ") {
            var c = byte
            if c >= 0x61 && c <= 0x7a { c -= 0x20 }
            if c == UInt8(ascii: "O") { c = UInt8(ascii: "0") }
            if c == UInt8(ascii: "I") || c == UInt8(ascii: "L") { c = UInt8(ascii: "1") }
            guard let value = alphabet.firstIndex(of: c), values.count < length else {
                throw PluginError.invalidArgument("code must be \(length) characters of 0-9 and A-Z without I, L, O and U")
            }
            values.append(value)
        }
        guard !values.isEmpty else { throw PluginError.invalidArgument("code is required") }
        guard values.count == length else {
            throw PluginError.invalidArgument("code must be \(length) characters of 0-9 and A-Z without I, L, O and U")
        }
        return values
    }

    static func checks(_ values: [Int]) -> Bool {
        values.count == length && checkValue(Array(values.prefix(randomSymbols))) == values[randomSymbols]
    }

    static func hash(_ values: [Int], key: [UInt8]) -> [UInt8] {
        HMAC.sha256(key: key, Array("loyalty.gift_card:".utf8) + values.map { alphabet[$0] })
    }
}
