import B2BContract
import CRMPluginABI
import CRMPluginKit
import ContactsContract

typealias Product = Crm_B2b_V1_Product
typealias PriceBook = Crm_B2b_V1_PriceBook
typealias Quote = Crm_B2b_V1_Quote
typealias QuoteContent = Crm_B2b_V1_QuoteContent
typealias LineItem = Crm_B2b_V1_LineItem
typealias Totals = Crm_B2b_V1_Totals
typealias ApprovalRule = Crm_B2b_V1_ApprovalRule
typealias RequiredApproval = Crm_B2b_V1_RequiredApproval
typealias About = Crm_Contacts_V1_About

/// The B2B module: the product catalog and price books; quotes on sales
/// opportunities (exact pricing, immutable revisions, approval rules, the
/// rendered document and its hash); deals, scorecards and buying
/// committees; signature envelopes, contracts and renewals. Each feature
/// lives in its own files and registers its methods here; the schema is
/// B2BSchema's.
enum B2B {
    static let service = "/crm.b2b.v1.B2B/"
    static let idempotency = IdempotencyKeys(table: "b2b_idempotency")

    static let definition: PluginDefinition = {
        let def = PluginDefinition(name: "b2b", version: "1.0.0",
                                   summary: "Catalog, price books, quotes with exact totals, revisions and approvals; deals, committees, signatures, contracts and renewals")
        def.descriptorSet = b2bDescriptorSet
        def.dependsOn("contacts", ">=1.0.0 <2.0.0")
        def.dependsOn("sales", ">=1.0.0 <2.0.0")
        B2BSchema.register(on: def)
        ProductMethods.register(on: def)
        PriceBookMethods.register(on: def)
        QuoteMethods.register(on: def)
        QuoteSending.register(on: def)
        ApprovalRules.register(on: def)
        DealPipelines.register(on: def)
        DealMethods.register(on: def)
        DealStages.register(on: def)
        Committee.register(on: def)
        Signature.register(on: def)
        ContractMethods.register(on: def)
        Renewals.register(on: def)
        AutoRenewals.register(on: def)
        ContractNotice.register(on: def)
        RenewalReport.register(on: def)
        B2BEvents.register(on: def)
        B2BGdpr.register(on: def)
        return def
    }()
}

@_cdecl("crm_plugin_entry")
public func crmPluginEntry(_ abi: UInt32, _ host: UnsafePointer<crm_host_api>?) -> UnsafePointer<crm_plugin_def>? {
    B2B.definition.export(hostABI: abi, host: host)
}
