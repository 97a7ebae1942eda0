import CGMime

/// What email to ticket needs of one RFC 5322 message, read by GMime (the
/// GNOME project's MIME library, in Debian as libgmime-3.0): headers
/// decoded (RFC 2047 words, charsets converted to UTF-8), addresses and
/// message-ids parsed, bodies with their transfer encoding undone.
struct InboundMessage {
    struct Address: Equatable {
        var address: String
        var name: String
    }
    struct Attachment {
        var filename: String
        var contentType: String
        var size: Int
    }
    /// A delivery status notification's per-recipient part (RFC 3464).
    struct DeliveryStatus {
        var finalRecipient = ""
        var action = ""
        var status = ""
    }

    var messageID = ""
    var inReplyTo: [String] = []
    var references: [String] = []
    var subject = ""
    var from: Address?
    var returnPath: String?
    var recipients: [String] = []
    var sentUnixSeconds: Int64 = 0
    /// Lower-cased header name → first value, for the headers the
    /// classifier reads.
    var headers: [String: String] = [:]
    /// A delivery status notification (RFC 3464).
    var isReport = false
    /// A read receipt (RFC 8098 disposition notification).
    var isReadReceipt = false
    var text = ""
    var html = ""
    var attachments: [Attachment] = []
    var deliveryStatus: DeliveryStatus?
    /// A bounce's copy of the message that failed: its message-id and
    /// references, which thread the bounce onto its ticket.
    var bouncedMessageIDs: [String] = []
}

enum MimeReader {
    /// Headers the classifier and threading read.
    static let keptHeaders = ["auto-submitted", "x-autoreply", "x-autorespond", "x-auto-response-suppress",
                              "precedence", "x-failed-recipients", "delivered-to", "x-original-to"]

    /// GMime wants one g_mime_init per process before any other call;
    /// a global's initializer runs once, thread-safely.
    private static let ready: Void = { g_mime_init() }()

    /// The message in `raw`, or nil if GMime cannot read a message there.
    static func read(_ raw: [UInt8]) -> InboundMessage? {
        _ = ready
        guard let message = raw.withUnsafeBufferPointer({ crm_mime_parse($0.baseAddress, $0.count) }) else { return nil }
        defer { crm_mime_unref(UnsafeMutableRawPointer(message)) }
        var out = InboundMessage()
        out.messageID = string(crm_mime_message_id(message))
        out.subject = string(crm_mime_subject(message))
        out.inReplyTo = references(crm_mime_header(message, "In-Reply-To"))
        out.references = references(crm_mime_header(message, "References"))
        out.from = addresses(message, 0).first ?? addresses(message, 4).first
        out.returnPath = crm_mime_header(message, "Return-Path").map { String(cString: $0).trimmedSpaces }
        out.recipients = (addresses(message, 2) + addresses(message, 3)).map(\.address)
        out.sentUnixSeconds = crm_mime_date(message)
        for name in keptHeaders {
            if let value = crm_mime_header(message, name) { out.headers[name] = String(cString: value).trimmedSpaces }
        }
        if let body = crm_mime_body(message) {
            if crm_mime_kind(body) == 1, lower(crm_mime_media_subtype(body)) == "report" {
                let kind = lower(crm_mime_type_parameter(body, "report-type"))
                out.isReport = kind == "delivery-status"
                out.isReadReceipt = kind == "disposition-notification"
            }
            walk(body, into: &out, depth: 0)
        }
        return out
    }

    /// Text and html from the first parts that are not attachments,
    /// attachments listed, a report's status and original headers kept.
    /// Depth-limited: a message nesting parts without end is not a reason
    /// to exhaust the stack.
    private static func walk(_ part: UnsafeMutablePointer<GMimeObject>, into out: inout InboundMessage, depth: Int) {
        guard depth < 32 else { return }
        let type = lower(crm_mime_media_type(part)), subtype = lower(crm_mime_media_subtype(part))
        switch crm_mime_kind(part) {
        case 1:
            for i in 0..<max(0, crm_mime_child_count(part)) {
                if let child = crm_mime_child(part, Int32(i)) { walk(child, into: &out, depth: depth + 1) }
            }
        case 2:
            guard let embedded = crm_mime_embedded(part) else { return }
            if out.isReport {
                out.bouncedMessageIDs += ids(of: embedded)
            } else {
                out.attachments.append(.init(filename: string(crm_mime_filename(part)), contentType: "message/rfc822", size: 0))
            }
        case 3, 4:
            if crm_mime_is_attachment(part) != 0 {
                out.attachments.append(.init(filename: string(crm_mime_filename(part)),
                                             contentType: "\(type)/\(subtype)", size: content(part).count))
            } else if type == "text" && subtype == "plain" && out.text.isEmpty, let text = crm_mime_text(part) {
                out.text = String(cString: text)
                crm_mime_free(text)
            } else if type == "text" && subtype == "html" && out.html.isEmpty, let text = crm_mime_text(part) {
                out.html = String(cString: text)
                crm_mime_free(text)
            } else if out.isReport && type == "message" && subtype == "delivery-status" {
                out.deliveryStatus = deliveryStatus(String(decoding: content(part), as: UTF8.self))
            } else if out.isReport && type == "text" && subtype == "rfc822-headers" {
                // The failed message's headers alone: read them as a message.
                let headers = content(part)
                if let original = headers.withUnsafeBufferPointer({ crm_mime_parse($0.baseAddress, $0.count) }) {
                    out.bouncedMessageIDs += ids(of: original)
                    crm_mime_unref(UnsafeMutableRawPointer(original))
                }
            } else if crm_mime_kind(part) == 4 {
                out.attachments.append(.init(filename: string(crm_mime_filename(part)),
                                             contentType: "\(type)/\(subtype)", size: content(part).count))
            }
        default:
            break
        }
    }

    private static func ids(of message: UnsafeMutablePointer<GMimeMessage>) -> [String] {
        let id = string(crm_mime_message_id(message))
        return (id.isEmpty ? [] : [id]) + references(crm_mime_header(message, "References"))
    }

    /// The per-recipient fields of a message/delivery-status body: header
    /// blocks, the first one naming a Final-Recipient wins.
    static func deliveryStatus(_ text: String) -> InboundMessage.DeliveryStatus {
        var status = InboundMessage.DeliveryStatus()
        for line in text.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmedSpaces.lowercased()
            let value = line[line.index(after: colon)...].trimmedSpaces
            // "rfc822; someone@example.com": the address after the type.
            let bare = value.split(separator: ";", maxSplits: 1).last.map { $0.trimmedSpaces } ?? value
            switch name {
            case "final-recipient" where status.finalRecipient.isEmpty: status.finalRecipient = bare
            case "action" where status.action.isEmpty: status.action = value.lowercased()
            case "status" where status.status.isEmpty: status.status = value
            default: break
            }
        }
        return status
    }

    private static func content(_ part: UnsafeMutablePointer<GMimeObject>) -> [UInt8] {
        guard let bytes = crm_mime_content(part) else { return [] }
        defer { crm_mime_bytes_free(bytes) }
        let count = crm_mime_bytes_count(bytes)
        guard count > 0, let base = crm_mime_bytes(bytes) else { return [] }
        return Array(UnsafeBufferPointer(start: base, count: count))
    }

    /// type: 0 from, 1 reply-to, 2 to, 3 cc, 4 sender.
    private static func addresses(_ message: UnsafeMutablePointer<GMimeMessage>, _ type: Int32) -> [InboundMessage.Address] {
        guard let list = crm_mime_addresses(message, type) else { return [] }
        var out: [InboundMessage.Address] = []
        for i in 0..<max(0, crm_mime_address_count(list)) {
            let index = Int32(i)
            guard let address = crm_mime_mailbox(list, index) else { continue }
            out.append(.init(address: String(cString: address).lowercased(), name: string(crm_mime_address_name(list, index))))
        }
        return out
    }

    private static func references(_ value: UnsafePointer<CChar>?) -> [String] {
        guard let value, let refs = crm_mime_references(value) else { return [] }
        defer { g_mime_references_free(refs) }
        return (0..<max(0, crm_mime_references_count(refs))).compactMap { i in
            crm_mime_reference(refs, Int32(i)).map { String(cString: $0) }
        }
    }

    private static func string(_ value: UnsafePointer<CChar>?) -> String {
        value.map { String(cString: $0) } ?? ""
    }

    private static func lower(_ value: UnsafePointer<CChar>?) -> String {
        string(value).lowercased()
    }
}
