import CCurl
import Foundation

/// One SMTP connection through libcurl's SMTP support (never a hand-made
/// client). The easy handle is kept between messages, so libcurl reuses
/// the connection (one MAIL FROM / RCPT TO / DATA per message). Used by one
/// thread at a time.
final class DeliverySMTP {
    struct Result {
        enum Kind { case sent, temporary, permanent }
        var kind: Kind
        var code: Int32
        var reply: String
    }

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    private var handle: UnsafeMutableRawPointer
    private var configured: DeliveryConfig?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    /// What the read and header callbacks see during one transfer.
    final class Transfer {
        var body: [UInt8]
        var offset = 0
        var lastReply = ""
        /// The first 4xx/5xx reply (libcurl sends QUIT after it, whose 221 comes last).
        var refusal = ""
        init(_ body: [UInt8]) { self.body = body }
    }

    init?() {
        _ = Self.globalInit
        guard let h = curl_easy_init() else { return nil }
        handle = h
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    func send(_ config: DeliveryConfig, to: String, message: [UInt8]) -> Result {
        if configured != config {
            // New settings: a fresh handle state, and so a fresh connection.
            curl_easy_reset(handle)
            crm_curl_set_string(handle, CURLOPT_URL, config.url)
            if !config.username.isEmpty {
                crm_curl_set_string(handle, CURLOPT_USERNAME, config.username)
                crm_curl_set_string(handle, CURLOPT_PASSWORD, config.password)
            }
            let ssl: curl_usessl = switch config.startTLS {
            case .required: CURLUSESSL_ALL
            case .opportunistic: CURLUSESSL_TRY
            case .off: CURLUSESSL_NONE
            }
            crm_curl_set_long(handle, CURLOPT_USE_SSL, Int(ssl.rawValue))
            crm_curl_set_string(handle, CURLOPT_MAIL_FROM, "<\(config.from)>")
            crm_curl_set_long(handle, CURLOPT_UPLOAD, 1)
            crm_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
            crm_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, 10_000)
            crm_curl_set_long(handle, CURLOPT_TIMEOUT_MS, 60_000)
            crm_curl_set_read_function(handle) { buffer, size, count, context in
                guard let buffer, let context else { return 0 }
                let t = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
                let n = min(size * count, t.body.count - t.offset)
                t.body.withUnsafeBufferPointer { src in
                    UnsafeMutableRawPointer(buffer).copyMemory(from: src.baseAddress! + t.offset, byteCount: n)
                }
                t.offset += n
                return n
            }
            crm_curl_set_header_function(handle) { buffer, size, count, context in
                guard let buffer, let context else { return size * count }
                let t = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
                let bytes = UnsafeRawBufferPointer(start: buffer, count: size * count)
                t.lastReply = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                if t.refusal.isEmpty, let first = t.lastReply.first, first == "4" || first == "5" { t.refusal = t.lastReply }
                return size * count
            }
            configured = config
        }
        crm_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        errorBuffer[0] = 0
        let transfer = Transfer(message)
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        crm_curl_set_pointer(handle, CURLOPT_READDATA, context)
        crm_curl_set_pointer(handle, CURLOPT_HEADERDATA, context)
        crm_curl_set_long(handle, CURLOPT_INFILESIZE_LARGE, message.count)
        let list = curl_slist_append(nil, "<\(to)>")
        defer { curl_slist_free_all(list) }
        crm_curl_set_slist(handle, CURLOPT_MAIL_RCPT, list)
        let code = withExtendedLifetime(transfer) { curl_easy_perform(handle) }
        var response = 0
        crm_curl_get_long(handle, CURLINFO_RESPONSE_CODE, &response)
        let smtp = Int32(clamping: response)
        if code == CURLE_OK { return Result(kind: .sent, code: smtp == 0 ? 250 : smtp, reply: transfer.lastReply) }
        let detail = String(cString: errorBuffer)
        // After a refusal the session may be mid-transaction: the next message gets a new handle and connection.
        if let fresh = curl_easy_init() {
            curl_easy_cleanup(handle)
            handle = fresh
            configured = nil
        }
        let text = transfer.refusal.isEmpty ? "\(String(cString: curl_easy_strerror(code))): \(detail)" : transfer.refusal
        if (500...599).contains(smtp) { return Result(kind: .permanent, code: smtp, reply: text) }
        return Result(kind: .temporary, code: smtp, reply: text)
    }
}
