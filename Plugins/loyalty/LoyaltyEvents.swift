import CRMPluginKit
import ContactsContract
import LoyaltyContract

/// Publishes ledger events about a customer account, on the timeline of
/// its person or organization (About) and in the scope of its owner.
enum LoyaltyEvents {
    static func publish(_ ctx: CallContext, _ topic: String, account: Account, posting: Posting? = nil, hold: Hold? = nil,
                        summary: String) throws {
        var event = Crm_Loyalty_V1_LedgerEvent()
        event.account = account
        if let posting { event.posting = posting }
        if let hold { event.hold = hold }
        event.about = About.with {
            if account.personID > 0 { $0.personIds = [account.personID] }
            if account.organizationID > 0 { $0.organizationIds = [account.organizationID] }
            $0.summary = summary
        }
        _ = try ctx.publish(topic, event, about: EventSubject(entity: "loyalty.account", recordID: String(account.id),
                                                             owner: ownerOrNil(account.owner)))
    }

    static let zeroDecimal: Set<String> = ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
                                           "VND", "VUV", "XAF", "XOF", "XPF"]
    static let threeDecimals: Set<String> = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]

    /// "12.50 EUR" or "120 points", for timeline lines.
    static func amount(_ value: Int64, _ unit: String) -> String {
        guard unit != Ledger.pointsUnit else { return "\(value) points" }
        let digits = zeroDecimal.contains(unit) ? 0 : threeDecimals.contains(unit) ? 3 : 2
        let sign = value < 0 ? "-" : ""
        var text = String(value.magnitude)
        guard digits > 0 else { return "\(sign)\(text) \(unit)" }
        while text.count <= digits { text = "0" + text }
        return "\(sign)\(text.dropLast(digits)).\(text.suffix(digits)) \(unit)"
    }
}
