import CRMPluginABI
import CRMPluginKit
import ContactsContract
import Foundation
import SalesContract

typealias Lead = Crm_Sales_V1_Lead
typealias Opportunity = Crm_Sales_V1_Opportunity
typealias Activity = Crm_Sales_V1_Activity
typealias Pipeline = Crm_Sales_V1_Pipeline
typealias Stage = Crm_Sales_V1_Stage
typealias Money = Crm_Sales_V1_Money
typealias About = Crm_Contacts_V1_About
typealias Person = Crm_Contacts_V1_Person
typealias Organization = Crm_Contacts_V1_Organization

/// The sales module (sales-force automation): leads and their conversion
/// into contacts and opportunities, pipelines, activities and follow-ups,
/// forecasts and stage statistics, and round-robin lead assignment.
enum Sales {
    static let service = "/crm.sales.v1.Sales/"
    static let idempotency = IdempotencyKeys(table: "sales_idempotency")

    static let definition: PluginDefinition = {
        let def = PluginDefinition(name: "sales", version: "1.0.0",
                                   summary: "Leads and conversion, pipelines and opportunities, activities, forecasts")
        def.descriptorSet = salesDescriptorSet
        def.dependsOn("contacts", ">=1.0.0 <2.0.0")
        SalesSchema.register(on: def)
        LeadMethods.register(on: def)
        LeadConversion.register(on: def)
        PipelineMethods.register(on: def)
        OpportunityMethods.register(on: def)
        OpportunityStages.register(on: def)
        ActivityMethods.register(on: def)
        Reports.register(on: def)
        AccountRollups.register(on: def)
        Teams.register(on: def)
        ContactEvents.register(on: def)
        SalesGdpr.register(on: def)
        return def
    }()
}

@_cdecl("crm_plugin_entry")
public func crmPluginEntry(_ abi: UInt32, _ host: UnsafePointer<crm_host_api>?) -> UnsafePointer<crm_plugin_def>? {
    Sales.definition.export(hostABI: abi, host: host)
}
