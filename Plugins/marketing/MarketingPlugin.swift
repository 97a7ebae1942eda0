import CRMPluginABI
import CRMPluginKit
import ContactsContract
import Foundation
import MarketingContract

typealias About = Crm_Contacts_V1_About
typealias Person = Crm_Contacts_V1_Person
typealias Organization = Crm_Contacts_V1_Organization

/// The marketing module: consent and double opt-in, segments and static
/// lists kept up to date from contacts' events, email templates, and SMTP
/// delivery off the RPC path. Each feature lives in its own files and
/// registers its methods here; the schema is MarketingSchema's.
enum Marketing {
    static let service = "/crm.marketing.v1.Marketing/"
    static let idempotency = IdempotencyKeys(table: "marketing_idempotency")

    static let definition: PluginDefinition = {
        let def = PluginDefinition(name: "marketing", version: "1.0.0",
                                   summary: "Consent and double opt-in, segments and lists, email templates, SMTP delivery")
        def.descriptorSet = marketingDescriptorSet
        def.dependsOn("contacts", ">=1.0.0 <2.0.0")
        MarketingSchema.register(on: def)
        Consent.register(on: def)
        Segments.register(on: def)
        Templates.register(on: def)
        Delivery.register(on: def)
        Campaigns.register(on: def)
        Journeys.register(on: def)
        Tracking.register(on: def)
        MarketingEvents.register(on: def)
        MarketingGdpr.register(on: def)
        def.onInit = { host in EngagementWindows.configure(host) }
        return def
    }()
}

@_cdecl("crm_plugin_entry")
public func crmPluginEntry(_ abi: UInt32, _ host: UnsafePointer<crm_host_api>?) -> UnsafePointer<crm_plugin_def>? {
    Marketing.definition.export(hostABI: abi, host: host)
}
