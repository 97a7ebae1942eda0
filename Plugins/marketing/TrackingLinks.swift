import CRMPluginKit
import Foundation

/// The links of an HTML body that get click tracking, and the rewriting of
/// a body as sent. A click token names a link by its index in this list, so
/// TrackClick finds the original URL again in the stored body: no table of
/// links, and a redirect can only ever go to a URL the message contained.
enum TrackingLinks {
    struct Link {
        /// The byte range of the href value (between its quotes) in the body's UTF-8.
        var valueRange: Range<Int>
        /// The URL, with the HTML character references of the attribute resolved.
        var url: String
    }

    /// The most links of one message that are tracked (the token's index is 16 bits).
    static let maxLinks = 1000

    /// The href of each `<a>` that is an http(s) URL, in order, other than
    /// links under one of `excludedPrefixes` (the unsubscribe link: a
    /// redirect in front of it would make a scanner's GET of the redirect
    /// look like a click on it).
    static func trackable(_ html: String, excludedPrefixes: [String]) -> [Link] {
        let bytes = Array(html.utf8)
        var links: [Link] = []
        var i = 0
        while i + 2 < bytes.count, links.count < maxLinks {
            guard bytes[i] == 0x3C, lower(bytes[i + 1]) == 0x61, isSpace(bytes[i + 2]) else { i += 1; continue }
            var j = i + 2
            var found: Range<Int>?
            while j < bytes.count, bytes[j] != 0x3E {
                if found == nil, let range = hrefValue(bytes, at: j) { found = range; j = range.upperBound; continue }
                j += 1
            }
            if let range = found {
                let url = unescape(String(decoding: bytes[range], as: UTF8.self)).trimmedSpacesAndNewlines
                let lowered = url.lowercased()
                if (lowered.hasPrefix("http://") || lowered.hasPrefix("https://")),
                   !excludedPrefixes.contains(where: { url.hasPrefix($0) }) {
                    links.append(Link(valueRange: range, url: url))
                }
            }
            i = j
        }
        return links
    }

    /// `html` with each trackable link's href replaced by `replacement(index)`
    /// and `pixel` before the last `</body>` (or at the end).
    static func rewrite(_ html: String, links: [Link], replacement: (Int) -> String, pixel: String) -> String {
        var bytes = Array(html.utf8)
        for (index, link) in links.enumerated().reversed() {
            bytes.replaceSubrange(link.valueRange, with: Array(replacement(index).utf8))
        }
        var out = String(decoding: bytes, as: UTF8.self)
        if let close = out.range(of: "</body>", options: [.caseInsensitive, .backwards]) {
            out.insert(contentsOf: pixel, at: close.lowerBound)
        } else {
            out += pixel
        }
        return out
    }

    /// At `at`, an attribute `href = "..."` or `'...'`: the value's range.
    private static func hrefValue(_ b: [UInt8], at: Int) -> Range<Int>? {
        guard at > 0, isSpace(b[at - 1]), at + 4 < b.count,
              lower(b[at]) == 0x68, lower(b[at + 1]) == 0x72, lower(b[at + 2]) == 0x65, lower(b[at + 3]) == 0x66 else { return nil }
        var k = at + 4
        while k < b.count, isSpace(b[k]) { k += 1 }
        guard k < b.count, b[k] == 0x3D else { return nil }
        k += 1
        while k < b.count, isSpace(b[k]) { k += 1 }
        guard k < b.count, b[k] == 0x22 || b[k] == 0x27 else { return nil }
        let quote = b[k]
        let start = k + 1
        var end = start
        while end < b.count, b[end] != quote { end += 1 }
        return end < b.count ? start..<end : nil
    }

    /// The character references an attribute value may carry for a URL.
    static func unescape(_ value: String) -> String {
        guard value.contains("&") else { return value }
        return value.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&#x27;", with: "'").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&#61;", with: "=")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    private static func lower(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c + 0x20 : c }
    private static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C }
}
