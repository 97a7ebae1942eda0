/// What kind of mail a message is, and the part of its text worth keeping.
enum MailClassifier {
    enum Kind: Equatable { case person, autoReply, bounce }

    static func kind(_ m: InboundMessage) -> Kind {
        if isBounce(m) { return .bounce }
        if isAutoReply(m) { return .autoReply }
        return .person
    }

    /// A delivery status notification, or what mail servers send as one
    /// without the report format: from the mailer daemon, to the null
    /// reverse path.
    static func isBounce(_ m: InboundMessage) -> Bool {
        if m.isReport || m.headers["x-failed-recipients"] != nil { return true }
        let local = m.from?.address.split(separator: "@").first.map { $0.lowercased() } ?? ""
        let daemon = local == "mailer-daemon" || local == "postmaster"
        return daemon && (m.returnPath == nil || m.returnPath == "<>" || m.returnPath == "")
    }

    /// RFC 3834's Auto-Submitted, and the headers autoresponders that
    /// predate it still send (Exchange's X-Auto-Response-Suppress, the
    /// Precedence of vacation programs and list servers).
    static func isAutoReply(_ m: InboundMessage) -> Bool {
        if let submitted = m.headers["auto-submitted"]?.lowercased(), !submitted.isEmpty,
           submitted.split(separator: ";").first.map({ $0.trimmedSpaces }) != "no" { return true }
        if m.headers["x-autoreply"] != nil || m.headers["x-autorespond"] != nil { return true }
        if let suppress = m.headers["x-auto-response-suppress"]?.lowercased(),
           ["all", "oof", "autoreply"].contains(where: suppress.contains) { return true }
        if let precedence = m.headers["precedence"]?.lowercased(),
           ["auto_reply", "bulk", "junk", "list"].contains(precedence) { return true }
        return false
    }

    /// The new part of a reply: the text up to the line introducing the
    /// quoted history ("On ... wrote:") or the first block of ">" lines,
    /// when something is left above it.
    static func newText(_ text: String) -> String {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        var cut = lines.count
        for (i, line) in lines.enumerated() {
            let trimmed = line.trimmedSpaces
            if trimmed.hasPrefix(">") { cut = i; break }
            if trimmed.hasPrefix("On ") && trimmed.hasSuffix("wrote:") { cut = i; break }
            if trimmed == "-----Original Message-----" { cut = i; break }
        }
        let kept = lines[..<cut].joined(separator: "\n").trimmedSpacesAndNewlines
        return kept.isEmpty ? text.trimmedSpacesAndNewlines : kept
    }

    /// An html body as plain text, for mail with no text/plain part: tags
    /// dropped (a block tag ends a line), script and style content
    /// dropped, the five named entities and numeric ones decoded.
    static func plainText(fromHTML html: String) -> String {
        var out = "", tag = "", inTag = false, skipping: String?
        for ch in html {
            if inTag {
                if ch == ">" {
                    inTag = false
                    let name = tag.lowercased().split(whereSeparator: { $0 == " " || $0 == "/" || $0 == "\n" || $0 == "\t" })
                        .first.map(String.init) ?? ""
                    let closing = tag.hasPrefix("/")
                    if let skip = skipping {
                        if closing && tag.dropFirst().lowercased().hasPrefix(skip) { skipping = nil }
                    } else if !closing && (name == "script" || name == "style") {
                        skipping = name
                    } else if ["br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "blockquote"].contains(name)
                                || (closing && ["p", "div", "tr", "li", "h1", "h2", "h3", "h4"].contains(String(name.dropFirst()))) {
                        if !out.hasSuffix("\n") { out.append("\n") }
                    }
                    tag = ""
                } else {
                    tag.append(ch)
                }
            } else if ch == "<" {
                inTag = true
            } else if skipping == nil {
                out.append(ch)
            }
        }
        return decodeEntities(out).trimmedSpacesAndNewlines
    }

    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = "", i = text.startIndex
        while i < text.endIndex {
            if text[i] == "&", let semi = text[i...].prefix(12).firstIndex(of: ";") {
                let name = text[text.index(after: i)..<semi]
                if let decoded = entity(String(name)) {
                    out.append(decoded)
                    i = text.index(after: semi)
                    continue
                }
            }
            out.append(text[i])
            i = text.index(after: i)
        }
        return out
    }

    private static func entity(_ name: String) -> Character? {
        switch name {
        case "amp": return "&"
        case "lt": return "<"
        case "gt": return ">"
        case "quot": return "\""
        case "apos", "#39": return "'"
        case "nbsp": return " "
        default:
            let hex = name.hasPrefix("#x") || name.hasPrefix("#X")
            guard name.hasPrefix("#"), let code = UInt32(name.dropFirst(hex ? 2 : 1), radix: hex ? 16 : 10),
                  let scalar = Unicode.Scalar(code) else { return nil }
            return Character(scalar)
        }
    }
}
