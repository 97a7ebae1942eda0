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

    /// RFC 3834's Auto-Submitted, the headers autoresponders that predate
    /// it still send (X-Autoreply, the Precedence of vacation programs),
    /// and read receipts. Not Precedence: list (a support address may be a
    /// list whose mail is the customers') nor X-Auto-Response-Suppress
    /// (it asks others not to answer; ordinary mail carries it).
    static func isAutoReply(_ m: InboundMessage) -> Bool {
        if m.isReadReceipt { return true }
        if let submitted = m.headers["auto-submitted"]?.lowercased(), !submitted.isEmpty,
           submitted.split(separator: ";").first.map({ $0.trimmedSpaces }) != "no" { return true }
        if m.headers["x-autoreply"] != nil || m.headers["x-autorespond"] != nil { return true }
        if let precedence = m.headers["precedence"]?.lowercased(), ["auto_reply", "bulk", "junk"].contains(precedence) {
            return true
        }
        return false
    }

    /// The new part of a reply: the text above the quoted history, which
    /// is the line introducing it ("On ... wrote:", "-----Original
    /// Message-----") or else the block of ">" lines that ends the message.
    /// Quotes the customer answers between ("> Which version?" / "3.2")
    /// stay. The whole text when nothing would be left.
    static func newText(_ text: String) -> String {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        var cut = lines.count
        if let intro = lines.firstIndex(where: { line in
            let trimmed = line.trimmedSpaces
            return (trimmed.hasPrefix("On ") && trimmed.hasSuffix("wrote:")) || trimmed == "-----Original Message-----"
        }) {
            cut = intro
        } else {
            // The trailing quote: from the first ">" line after which only
            // quoted or empty lines follow.
            var i = lines.count
            while i > 0, lines[i - 1].trimmedSpaces.isEmpty || lines[i - 1].trimmedSpaces.hasPrefix(">") { i -= 1 }
            while i < lines.count, !lines[i].trimmedSpaces.hasPrefix(">") { i += 1 }
            cut = i
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
