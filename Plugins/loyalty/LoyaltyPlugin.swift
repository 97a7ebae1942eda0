import CRMPluginABI
import CRMPluginKit
import ContactsContract
import LoyaltyContract

typealias About = Crm_Contacts_V1_About
typealias Account = Crm_Loyalty_V1_Account
typealias AccountKind = Crm_Loyalty_V1_AccountKind
typealias AccountStatus = Crm_Loyalty_V1_AccountStatus
typealias Entry = Crm_Loyalty_V1_Entry
typealias Posting = Crm_Loyalty_V1_Posting
typealias PostingKind = Crm_Loyalty_V1_PostingKind
typealias PostingResult = Crm_Loyalty_V1_PostingResult
typealias Hold = Crm_Loyalty_V1_Hold
typealias HoldStatus = Crm_Loyalty_V1_HoldStatus
typealias GiftCard = Crm_Loyalty_V1_GiftCard

/// The loyalty module: the double-entry ledger (accounts, postings, holds,
/// reversals, reconciliation), gift cards and house accounts on it. Each
/// feature lives in its own files and registers its methods here; the
/// schema is LoyaltySchema's.
enum Loyalty {
    static let service = "/crm.loyalty.v1.Loyalty/"

    static let definition: PluginDefinition = {
        let def = PluginDefinition(name: "loyalty", version: "1.0.0",
                                   summary: "One double-entry ledger for points, gift cards and house accounts")
        def.descriptorSet = loyaltyDescriptorSet
        def.dependsOn("contacts", ">=1.0.0 <2.0.0")
        LoyaltySchema.register(on: def)
        AccountMethods.register(on: def)
        PointsMethods.register(on: def)
        HoldMethods.register(on: def)
        GiftCardMethods.register(on: def)
        GiftCardLookup.register(on: def)
        HouseAccountMethods.register(on: def)
        HouseMemberMethods.register(on: def)
        HouseStatements.register(on: def)
        Programs.register(on: def)
        Rewards.register(on: def)
        PointExpiry.register(on: def)
        OrderMethods.register(on: def)
        OrderRefunds.register(on: def)
        OrderReports.register(on: def)
        Tiers.register(on: def)
        TierMethods.register(on: def)
        TierReview.register(on: def)
        Reconciliation.register(on: def)
        LoyaltyContacts.register(on: def)
        LoyaltyGdpr.register(on: def)
        return def
    }()
}

@_cdecl("crm_plugin_entry")
public func crmPluginEntry(_ abi: UInt32, _ host: UnsafePointer<crm_host_api>?) -> UnsafePointer<crm_plugin_def>? {
    Loyalty.definition.export(hostABI: abi, host: host)
}
