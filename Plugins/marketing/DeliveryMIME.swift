import CRMPluginKit
import Foundation

/// The wire form of one message: RFC 5322 headers and a MIME
/// multipart/alternative body (text and HTML, UTF-8, base64). No CR or LF
/// of a value ever reaches a header: addresses, URLs and ids holding one
/// are refused, a subject's controls become spaces.
enum DeliveryMIME {
    struct Refused: Error { var reason: String }

    struct Input {
        var from: String
        var to: String
        var subject: String
        var html: String
        var text: String
        var unsubscribeURL: String
        var messageID: String
        var dateUs: Int64
    }

    /// Whether `value` holds a control character (CR, LF, NUL, ...) that must never reach a header.
    static func unsafe(_ value: String) -> Bool {
        value.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    static func build(_ m: Input) throws -> [UInt8] {
        for (name, value) in [("from", m.from), ("to", m.to), ("unsubscribe_url", m.unsubscribeURL), ("message_id", m.messageID)]
            where unsafe(value) {
            throw Refused(reason: "refused: \(name) holds a control character (header injection)")
        }
        if m.to.contains(where: { $0 == "<" || $0 == ">" || $0 == "," || $0 == " " }) {
            throw Refused(reason: "refused: to holds <, >, a comma or a space")
        }
        if m.unsubscribeURL.contains(where: { $0 == "<" || $0 == ">" || $0 == " " }) {
            throw Refused(reason: "refused: unsubscribe_url holds <, > or a space")
        }
        var h = "Date: \(date(m.dateUs))\r\n"
        h += "From: \(m.from)\r\n"
        h += "To: \(m.to)\r\n"
        h += "Subject: \(encodedSubject(m.subject))\r\n"
        h += "Message-ID: \(m.messageID)\r\n"
        h += "MIME-Version: 1.0\r\n"
        if !m.unsubscribeURL.isEmpty {
            h += "List-Unsubscribe: <\(m.unsubscribeURL)>\r\n"
            h += "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        }
        let parts = [("text/plain", m.text), ("text/html", m.html)].filter { !$0.1.isEmpty }
        if parts.count == 2 {
            let boundary = "=_crm_" + ConsentTokens.newToken()
            h += "Content-Type: multipart/alternative; boundary=\"\(boundary)\"\r\n\r\n"
            for (type, body) in parts { h += "--\(boundary)\r\n" + part(type, body) + "\r\n" }
            h += "--\(boundary)--\r\n"
        } else {
            h += part(parts.first?.0 ?? "text/plain", parts.first?.1 ?? "")
        }
        return Array(h.utf8)
    }

    private static func part(_ type: String, _ body: String) -> String {
        "Content-Type: \(type); charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64Lines(Array(body.utf8))
    }

    static func base64Lines(_ bytes: [UInt8]) -> String {
        let encoded = Data(bytes).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        return encoded.isEmpty ? "" : encoded + "\r\n"
    }

    /// Plain when printable ASCII and short; otherwise RFC 2047 encoded
    /// words (whole characters, ≤ 45 bytes each), folded.
    static func encodedSubject(_ subject: String) -> String {
        let line = String(String.UnicodeScalarView(subject.unicodeScalars.map { unsafe(String($0)) ? " " : $0 }))
        if line.unicodeScalars.allSatisfy({ $0.isASCII }) && line.utf8.count <= 900 && !line.contains("=?") { return line }
        var words: [[UInt8]] = []
        var chunk: [UInt8] = []
        for ch in line {
            let bytes = Array(String(ch).utf8)
            if chunk.count + bytes.count > 45 && !chunk.isEmpty {
                words.append(chunk)
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append(chunk) }
        return words.map { "=?UTF-8?B?" + Data($0).base64EncodedString() + "?=" }.joined(separator: "\r\n ")
    }

    /// RFC 5322 date in UTC.
    static func date(_ us: Int64) -> String {
        var t = time_t(us / 1_000_000)
        var tm = tm()
        gmtime_r(&t, &tm)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let day = days[Int(tm.tm_wday) % 7], month = months[Int(tm.tm_mon) % 12]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(day), \(two(tm.tm_mday)) \(month) \(tm.tm_year + 1900) \(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) +0000"
    }
}
