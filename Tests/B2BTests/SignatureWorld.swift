import B2BTestClient
import CRMClient
import CRMPluginKit
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import SalesTestClient

typealias BEnvelope = Crm_B2b_V1_Envelope
typealias BContract = Crm_B2b_V1_Contract
typealias BTerms = Crm_B2b_V1_ContractTerms

/// HMAC-SHA256 (RFC 2104) written here over the kit's SHA-256, so the
/// webhook is signed by an implementation other than the plugin's (swift-crypto).
enum TestHMAC {
    static func sha256(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var k = key.count > 64 ? CRMPluginKit.SHA256.hash(key) : key
        k += [UInt8](repeating: 0, count: 64 - k.count)
        let inner = CRMPluginKit.SHA256.hash(k.map { $0 ^ 0x36 } + message)
        return CRMPluginKit.SHA256.hash(k.map { $0 ^ 0x5c } + inner)
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}

/// Signature calls for the tests: a sent quote, an envelope, the provider's webhook.
extension B2BWorld {
    static let webhookKey = "whsec-test-0123456789abcdef"
    static let day: Int64 = 86_400_000_000

    /// A world whose b2b verifies webhooks with `webhookKey` and makes
    /// renewals `leadDays` before a contract's end.
    static func signing(users: [(String, String)] = [("ann", "sales_rep"), ("bob", "sales_rep"), ("meg", "sales_manager"),
                                                      ("rita", "read_only")], leadDays: Int = 90,
                        dataDir: String? = nil) async throws -> B2BWorld {
        try await start(users: users, environment: environment(leadDays: leadDays), dataDir: dataDir)
    }

    static func environment(leadDays: Int = 90) -> [String: String] {
        ["CRM_PLUGIN_B2B_SIGNATURE_WEBHOOK_KEY": webhookKey, "CRM_PLUGIN_B2B_RENEWAL_LEAD_DAYS": String(leadDays)]
    }

    /// 4 widgets and 2 support hours at 20 % tax: net 210.00 EUR, total 252.00 EUR.
    func fleet() -> BContent {
        Q.content([Q.section("Goods", [Q.line("4", product: widget.id, taxBp: 2000),
                                       Q.line("2", product: support.id, taxBp: 2000)])], title: "Fleet")
    }

    /// A sent quote (revision 1, `fleet()`) on a new opportunity owned by `owner`.
    func sentQuote(owner: String = "ann", organization: String = "Acme Industries") async throws
        -> (quote: BQuote, opportunity: SOpportunity, person: CPerson) {
        let (opportunity, person, _) = try await self.opportunity(owner: owner, organization: organization)
        let quote = try await admin.createQuote(opportunity: opportunity.id, currency: "EUR", fleet())
        return (try await admin.send(quote.id), opportunity, person)
    }

    static func terms(start: Int64 = 1_798_761_600_000_000, days: Int64 = 365, uplift: Int32 = 500,
                      period: Crm_B2b_V1_BillingPeriod = .annual) -> BTerms {
        .with {
            $0.startUnixUs = start
            $0.endUnixUs = start + days * day
            $0.billingPeriod = period
            $0.autoRenew = true
            $0.noticeDays = 60
            $0.upliftBp = uplift
        }
    }

    func sendForSignature(_ client: B2BClient? = nil, quote: Int64, revision: Int32 = 0, hash: String = "",
                          signer: Int64 = 0, terms: BTerms = B2BWorld.terms(), key: String = "") async throws -> BEnvelope {
        try await (client ?? admin).call("SendForSignature", Crm_B2b_V1_SendForSignatureRequest.with {
            $0.quoteID = quote
            $0.revision = revision
            $0.contentHash = hash
            $0.signerPersonID = signer
            $0.terms = terms
            $0.idempotencyKey = key
        })
    }

    /// The provider's JSON body for an event.
    static func body(_ event: String, envelope: Int64, _ type: String, hash: String? = nil, reason: String? = nil,
                     at: Int64? = nil) -> [UInt8] {
        var fields = ["\"event_id\":\"\(event)\"", "\"envelope_id\":\(envelope)", "\"type\":\"\(type)\""]
        if let hash { fields.append("\"content_hash\":\"\(hash)\"") }
        if let reason { fields.append("\"reason\":\"\(reason)\"") }
        if let at { fields.append("\"occurred_unix_us\":\(at)") }
        return Array("{\(fields.joined(separator: ","))}".utf8)
    }

    static func sign(_ body: [UInt8], key: String = webhookKey) -> String {
        "sha256=" + TestHMAC.hex(TestHMAC.sha256(key: Array(key.utf8), body))
    }

    /// Calls the webhook method with a body signed by `signature` (the right one by default).
    func webhook(_ body: [UInt8], signature: String? = nil) async throws -> Crm_B2b_V1_SignatureEventResult {
        try await admin.call("RecordSignatureEvent", Crm_B2b_V1_RecordSignatureEventRequest.with {
            $0.body = Data(body)
            $0.signature = signature ?? B2BWorld.sign(body)
        })
    }

    func event(_ id: String, envelope: Int64, _ type: String, hash: String? = nil, reason: String? = nil) async throws
        -> Crm_B2b_V1_SignatureEventResult {
        try await webhook(B2BWorld.body(id, envelope: envelope, type, hash: hash, reason: reason))
    }

    func envelope(_ id: Int64, as client: B2BClient? = nil) async throws -> BEnvelope {
        try await (client ?? admin).call("GetEnvelope", Crm_B2b_V1_GetEnvelopeRequest.with { $0.id = id })
    }

    func contract(_ id: Int64, as client: B2BClient? = nil) async throws -> BContract {
        try await (client ?? admin).call("GetContract", Crm_B2b_V1_GetContractRequest.with { $0.id = id })
    }

    /// A signed contract: a sent quote, an envelope with `terms`, sent and signed.
    func signedContract(owner: String = "ann", terms: BTerms = B2BWorld.terms(), tag: String = "c")
        async throws -> (contract: BContract, quote: BQuote, opportunity: SOpportunity) {
        let (quote, opportunity, _) = try await sentQuote(owner: owner)
        let envelope = try await sendForSignature(quote: quote.id, terms: terms)
        _ = try await event("\(tag)-sent-\(envelope.id)", envelope: envelope.id, "sent")
        let signed = try await event("\(tag)-signed-\(envelope.id)", envelope: envelope.id, "signed")
        return (signed.contract, quote, opportunity)
    }
}
