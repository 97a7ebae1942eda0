import CRMPluginKit
import Mustache

/// HTML escaping for merged values, by Unicode scalar. The engine's own
/// HTML type compares Characters, so a quote followed by a combining mark
/// (one Character, `"\u{301}`) is not escaped and would end an attribute
/// value: a person could write markup into the email through their name.
struct TemplateEscaping: MustacheContentType {
    static let contentTypeName = "CRM_HTML"

    /// Registers the content type with the engine before the first parse
    /// (a global lazy initializer: run once, thread-safe).
    static let registerOnce: Void = {
        MustacheContentTypes.register(TemplateEscaping(), named: contentTypeName)
    }()

    func escapeText(_ text: String) -> String { Self.html(text) }

    static func html(_ text: String) -> String { HTMLText.escape(text) }

    /// The longest an escaped value can be, per byte of it.
    static let maxGrowth = 6

    /// One header line: CR, LF and every other control or line-separator
    /// character becomes a space (a run of them one space), so a merged
    /// value cannot add a header; then cut to `maxBytes` on a character.
    static func headerLine(_ text: String, maxBytes: Int) -> String {
        var scalars = String.UnicodeScalarView()
        var replaced = false
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v) || v == 0x2028 || v == 0x2029 {
                if !replaced { scalars.append(" ") }
                replaced = true
            } else {
                scalars.append(scalar)
                replaced = false
            }
        }
        var line = String(scalars)
        if line.utf8.count > maxBytes {
            var cut = ""
            var bytes = 0
            for character in line {
                bytes += character.utf8.count
                if bytes > maxBytes { break }
                cut.append(character)
            }
            line = cut
        }
        return line
    }
}
