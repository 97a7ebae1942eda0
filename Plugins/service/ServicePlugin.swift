import CRMPluginABI
import CRMPluginKit
import ContactsContract
import ServiceContract

typealias Ticket = Crm_Service_V1_Ticket
typealias TicketMessage = Crm_Service_V1_TicketMessage
typealias TicketStatus = Crm_Service_V1_TicketStatus
typealias About = Crm_Contacts_V1_About
typealias Person = Crm_Contacts_V1_Person
typealias Organization = Crm_Contacts_V1_Organization

/// The customer service module: tickets and their conversation, merges
/// and links, custom fields, team queues, the requester portal (part 1),
/// SLA calendars, policies and clocks (part 2), routing and escalation
/// (part 3), macros (part 4), the knowledge base (part 5), satisfaction
/// surveys (part 6, the crm.service.v1.Surveys service) and email to
/// ticket (part 7, the crm.service.v1.Mailbox service).
enum Service {
    static let service = "/crm.service.v1.Service/"
    static let idempotency = IdempotencyKeys(table: "service_idempotency")

    static let definition: PluginDefinition = {
        let def = PluginDefinition(name: "service", version: "1.0.0",
                                   summary: "Tickets, replies and notes, merges and links, team queues, SLA clocks on business hours, routing and escalation, macros, a knowledge base with full-text search, satisfaction surveys, email to ticket, a requester portal")
        def.descriptorSet = serviceDescriptorSet
        def.dependsOn("contacts", ">=1.0.0 <2.0.0")
        ServiceSchema.register(on: def)
        TicketMethods.register(on: def)
        TicketWorkflow.register(on: def)
        TicketMessages.register(on: def)
        TicketMerge.register(on: def)
        TicketLinks.register(on: def)
        Queues.register(on: def)
        CustomFields.register(on: def)
        Teams.register(on: def)
        SlaCalendars.register(on: def)
        SlaPolicies.register(on: def)
        SlaTicketMethods.register(on: def)
        SlaReport.register(on: def)
        SlaTimers.register(on: def)
        TeamRoutingMethods.register(on: def)
        AgentMethods.register(on: def)
        RoutingJob.register(on: def)
        Escalations.register(on: def)
        Macros.register(on: def)
        MacroApply.register(on: def)
        KnowledgeSchema.register(on: def)
        ArticleCategories.register(on: def)
        ArticleMethods.register(on: def)
        ArticlePublishing.register(on: def)
        ArticleSearch.register(on: def)
        SurveySchema.register(on: def)
        SurveyDefinitions.register(on: def)
        SurveyInvitations.register(on: def)
        SurveyAnswers.register(on: def)
        SurveyDispatch.register(on: def)
        SurveyResults.register(on: def)
        SurveyComments.register(on: def)
        def.onInit = { host in
            SlaEngine.leadMicros.store(ServiceConfig.slaWarningLeadMicros(host), ordering: .relaxed)
            SurveyConfig.load(host)
        }
        RequesterMethods.register(on: def)
        MailSchema.register(on: def)
        Mailboxes.register(on: def)
        MailIngest.register(on: def)
        MailLog.register(on: def)
        MailReplies.register(on: def)
        ServiceGdpr.register(on: def)
        ContactEvents.register(on: def)
        return def
    }()
}

@_cdecl("crm_plugin_entry")
public func crmPluginEntry(_ abi: UInt32, _ host: UnsafePointer<crm_host_api>?) -> UnsafePointer<crm_plugin_def>? {
    Service.definition.export(hostABI: abi, host: host)
}
