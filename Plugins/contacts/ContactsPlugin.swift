import CRMPluginABI
import CRMPluginKit
import ContactsContract
import Foundation

typealias Person = Crm_Contacts_V1_Person
typealias Organization = Crm_Contacts_V1_Organization
typealias About = Crm_Contacts_V1_About

/// The contacts module: people, organizations, custom fields, duplicates,
/// merge, and the customer timeline that every other module writes to
/// through the bus. Every business module depends on it.
enum Contacts {
    static let service = "/crm.contacts.v1.Contacts/"

    static let definition: PluginDefinition = {
        let def = PluginDefinition(name: "contacts", version: "1.0.0",
                                   summary: "People, organizations, custom fields, duplicates, the customer timeline")
        def.descriptorSet = contactsDescriptorSet
        ContactsSchema.register(on: def)
        PersonMethods.register(on: def)
        PeopleQueries.register(on: def)
        OrganizationMethods.register(on: def)
        CustomFields.register(on: def)
        Duplicates.register(on: def)
        OrganizationMerge.register(on: def)
        OrganizationHierarchy.register(on: def)
        Timeline.register(on: def)
        Gdpr.register(on: def)
        CsvImport.register(on: def)
        CsvExport.register(on: def)
        return def
    }()
}

@_cdecl("crm_plugin_entry")
public func crmPluginEntry(_ abi: UInt32, _ host: UnsafePointer<crm_host_api>?) -> UnsafePointer<crm_plugin_def>? {
    Contacts.definition.export(hostABI: abi, host: host)
}
