import B2BContract
import CRMPluginKit

/// Exact decimal quantities and the one rounding step pricing uses. All
/// arithmetic is on integers: Int128 intermediates hold any product of
/// bounded inputs (10^12 thousandths × 10^15 minor × 10^4 × 10^4 < 10^35,
/// and Int128 reaches 1.7 × 10^38), so nothing can wrap or trap.
enum Quantity {
    /// 1,000,000,000 units, in thousandths.
    static let maxMilli: Int64 = 1_000_000_000_000

    /// "12.5" → 12500: digits, then optionally "." and 1 to 3 digits. No
    /// sign, exponent or separators; a value of 0 is refused.
    static func parse(_ text: String, _ field: String) throws -> Int64 {
        let s = text.trimmedSpaces
        let bad = PluginError.invalidArgument(
            "\(field) \"\(s.prefix(40))\" is not a decimal quantity above 0 with at most 3 decimal places (e.g. \"2\", \"0.333\")")
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.utf8.count <= 10,
              whole.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { throw bad }
        var fraction = parts.count == 2 ? Array(parts[1].utf8) : []
        guard parts.count == 1 || (1...3).contains(fraction.count), fraction.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw bad
        }
        while fraction.count < 3 { fraction.append(0x30) }
        var milli: Int64 = 0
        for byte in whole.utf8 + fraction { milli = milli * 10 + Int64(byte - 0x30) }  // at most 13 digits: no overflow
        guard milli > 0 else { throw bad }
        guard milli <= maxMilli else {
            throw PluginError.invalidArgument("\(field) \(s) is above the largest quantity, 1000000000")
        }
        return milli
    }

    /// 12500 → "12.5", 1000 → "1", 333 → "0.333".
    static func format(_ milli: Int64) -> String {
        let whole = milli / 1000, fraction = milli % 1000
        guard fraction != 0 else { return String(whole) }
        var digits = String(fraction)
        while digits.count < 3 { digits = "0" + digits }
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }
}

enum Rounding {
    /// `numerator / denominator` rounded to an integer by `mode`; both
    /// non-negative, the denominator above 0 (pricing never divides otherwise).
    static func divide(_ numerator: Int128, by denominator: Int128, _ mode: Crm_B2b_V1_RoundingMode) -> Int128 {
        let quotient = numerator / denominator, remainder = numerator % denominator
        let twice = remainder * 2
        if twice > denominator { return quotient + 1 }
        if twice < denominator { return quotient }
        // Exactly half.
        switch mode {
        case .halfEven: return quotient % 2 == 0 ? quotient : quotient + 1
        default: return quotient + 1
        }
    }

    /// An amount as Int64 within the module's cap, or OUT_OF_RANGE naming it.
    static func amount(_ value: Int128, _ what: @autoclosure () -> String) throws -> Int64 {
        guard value >= 0, value <= Int128(Check.maxAmountMinor) else {
            throw PluginError(.outOfRange, "\(what()) would be \(value) minor units, above the largest amount, \(Check.maxAmountMinor)")
        }
        return Int64(value)  // in range: checked just above
    }
}

/// Display forms of amounts and rates for the document and messages.
enum Format {
    /// Minor units per major unit: ISO 4217's exponents that are not 2.
    static let exponents: [String: Int] = [
        "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0, "UGX": 0,
        "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
        "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    ]

    /// 123456 EUR → "1234.56"; 5 JPY → "5"; 1234 KWD → "1.234".
    static func money(_ minor: Int64, _ currency: String) -> String {
        decimal(minor, places: exponents[currency] ?? 2, trim: false)
    }

    /// 2000 → "20 %"; 1550 → "15.5 %"; 3333 → "33.33 %".
    static func percent(_ bp: Int64) -> String { decimal(bp, places: 2, trim: true) + " %" }

    static func decimal(_ value: Int64, places: Int, trim: Bool) -> String {
        guard places > 0 else { return String(value) }
        let sign = value < 0 ? "-" : ""
        let magnitude = value.magnitude
        var scale: UInt64 = 1
        for _ in 0..<places { scale *= 10 }
        var fraction = String(magnitude % scale)
        while fraction.count < places { fraction = "0" + fraction }
        if trim { while fraction.hasSuffix("0") { fraction.removeLast() } }
        return fraction.isEmpty ? "\(sign)\(magnitude / scale)" : "\(sign)\(magnitude / scale).\(fraction)"
    }
}
