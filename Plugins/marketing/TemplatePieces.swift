import CRMPluginKit
import Mustache

/// A part parsed by swift-mustache in pieces of about 4 KiB, with exactly
/// the result of one parse of the whole.
///
/// Why: the engine's parser measures the distance to the end of its text
/// (`String.distance`, linear) at every "{" and every tag's "}}", so one
/// parse costs about braces × text length: ~2 s of the writer for 500 tags
/// in 512 KiB. In pieces each distance is at most a piece long.
///
/// Where it cuts: only between two ASCII letters or digits outside every
/// tag and section. There the parse of the whole is in the middle of plain
/// text at the top level, and a fresh parser starting on the next letter
/// reads it as text too, after which both are in the same state: no section
/// open, default delimiters, not at a line's start. So the pieces' tokens
/// are the whole's, a text token split in two where the cut falls, and the
/// rendered pieces joined are the whole rendered.
///
/// Checked, not assumed: a piece that parses must end where its last letter
/// was read as top-level text (anything else, a tag or section running on,
/// fails at the piece's end). A piece that fails at its end (the text ends
/// inside a tag, a section never closed) proves nothing about the whole:
/// the rest is then parsed in one, as before. Any other error happened
/// before the piece's end and is the whole's first error, at the same place;
/// its line and column are counted in the whole part.
enum TemplatePieces {
    static let pieceBytes = 4096

    /// The parsed pieces of `source`, each after `prefix` (the content-type
    /// pragma, a standalone line that leaves the parser as it found it).
    static func parse(_ source: String, prefix: String, part: TemplatePart) throws -> [MustacheTemplate] {
        let bytes = Array(source.utf8)
        var starts = [0] + cuts(bytes)
        var templates: [MustacheTemplate] = []
        var k = 0
        while k < starts.count {
            let lo = starts[k]
            let hi = k + 1 < starts.count ? starts[k + 1] : bytes.count
            let text = String(decoding: bytes[lo..<hi], as: UTF8.self)
            do {
                templates.append(try MustacheTemplate(string: prefix + text))
                k += 1
            } catch let error as MustacheTemplate.ParserError {
                if hi < bytes.count && reachedTheEnd(error.error) {
                    starts.removeSubrange((k + 1)...)  // the rest in one
                    continue
                }
                throw refusal(error, text: text, before: String(decoding: bytes[..<lo], as: UTF8.self), part)
            }
        }
        return templates
    }

    /// Byte offsets to cut at: at least `pieceBytes` apart, between two ASCII
    /// letters or digits, after every tag opened before them has closed (the
    /// first "}}" after its "{{", as TemplateCompiler's prescan counts) and
    /// every section too.
    static func cuts(_ bytes: [UInt8]) -> [Int] {
        func word(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
        }
        let open = UInt8(ascii: "{"), close = UInt8(ascii: "}")
        var cuts: [Int] = []
        var last = 0
        var depth = 0
        var i = 0
        while i < bytes.count {
            if bytes[i] == open, i + 1 < bytes.count, bytes[i + 1] == open {
                let j = i + 2
                guard j < bytes.count else { break }
                var end = j
                while end + 1 < bytes.count && !(bytes[end] == close && bytes[end + 1] == close) { end += 1 }
                if end + 1 >= bytes.count { break }  // never closed: no cut after it
                switch bytes[j] {
                case UInt8(ascii: "#"), UInt8(ascii: "^"): depth += 1
                case UInt8(ascii: "/"): depth = max(0, depth - 1)
                default: break
                }
                i = end + 2
                continue
            }
            if depth == 0, i - last >= pieceBytes, word(bytes[i - 1]), word(bytes[i]) {
                cuts.append(i)
                last = i
            }
            i += 1
        }
        return cuts
    }

    /// Whether the parser failed because its text ended (read past it, or a
    /// section still open), which more text could have changed. Only the
    /// errors that come from characters before the end are taken as the
    /// whole's; the rest, the engine's internal overflow included, are not.
    private static func reachedTheEnd(_ error: Error) -> Bool {
        switch error as? MustacheTemplate.Error {
        case .sectionCloseNameIncorrect?, .unfinishedName?: return false
        default: return true
        }
    }

    /// The error as one parse of the whole part states it: lines and
    /// columns counted as swift-mustache counts them (lines: newline
    /// characters before the error; the column: characters back to the last
    /// "\n"), in the part, not in the piece.
    private static func refusal(_ error: MustacheTemplate.ParserError, text: String, before: String,
                                _ part: TemplatePart) -> PluginError {
        let context = error.context
        // The prefix is one line of the piece.
        let linesInPiece = max(0, context.lineNumber - 2)
        let line = 1 + before.reduce(0) { $1.isNewline ? $0 + 1 : $0 } + linesInPiece
        // The column runs back past the piece's start unless a "\n" stopped it first.
        var seen = 0
        var stopped = false
        for ch in text where ch.isNewline {
            guard seen < linesInPiece else { break }
            seen += 1
            if ch == "\n" { stopped = true; break }
        }
        let column = stopped ? context.columnNumber : context.columnNumber + before.reversed().prefix { $0 != "\n" }.count
        return .invalidArgument("\(part.rawValue): line \(line), column \(column): \(TemplateCompiler.describe(error.error))")
    }
}
