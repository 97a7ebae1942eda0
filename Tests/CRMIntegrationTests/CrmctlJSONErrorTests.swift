import CRMTestSupport
import Foundation
import Testing

/// A JSON request that does not fit its type is refused before it is sent
/// (INVALID_ARGUMENT, exit status 3), naming the field and what it takes.
@Suite struct CrmctlJSONErrorTests {
    static let createPerson = "/crm.contacts.v1.Contacts/CreatePerson"
    static let prefix = "crmctl: INVALID_ARGUMENT: request is not valid JSON for crm.contacts.v1.CreatePersonRequest: "

    @Test func eachMistakeIsNamedWithItsFieldPath() throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let cases: [(String, String)] = [
            (#"{"person":{"organizationId":"abc"}}"#,
             #"person.organizationId: expected an integer (int64 as a JSON number or decimal string), got "abc""#),
            (#"{"person":{"lifecycleStage":"LIFECYCLE_STAGE_BOSS"}}"#,
             "person.lifecycleStage: expected one of LIFECYCLE_STAGE_UNSPECIFIED, LIFECYCLE_STAGE_SUBSCRIBER, "
                + "LIFECYCLE_STAGE_LEAD, LIFECYCLE_STAGE_QUALIFIED, LIFECYCLE_STAGE_OPPORTUNITY, "
                + "LIFECYCLE_STAGE_CUSTOMER, LIFECYCLE_STAGE_EVANGELIST, LIFECYCLE_STAGE_OTHER (or its number), "
                + #"got "LIFECYCLE_STAGE_BOSS""#),
            (#"{"person":{"emails":[{"address":"a@b.example"},{"address":5}]}}"#,
             "person.emails[1].address: expected a string, got 5"),
            (#"{"person":{"first_name":true}}"#, "person.first_name: expected a string, got true"),
            (#"{"person":{"tags":"vip"}}"#, #"person.tags: expected a JSON array of string values, got "vip""#),
            (#"{"person":{"tags":["vip",7]}}"#, "person.tags[1]: expected a string, got 7"),
            (#"{"person":{"customFields":{"tier":{"txt":"gold"}}}}"#,
             #"person.customFields["tier"].txt: no such field in crm.contacts.v1.FieldValue; fields: text, number, date, choice"#),
            (#"{"person":{"customFields":{"tier":{"text":"gold","choice":"a"}}}}"#,
             #"person.customFields["tier"]: only one of choice, text may be set (oneof value)"#),
            (#"{"person":"Ada"}"#, #"person: expected a JSON object (crm.contacts.v1.Person), got "Ada""#),
            (#"[1,2]"#, "expected a JSON object, got [1,2]"),
        ]
        for (json, message) in cases {
            let run = try CrmctlRun.run(["call", Self.createPerson, json], socket: crmd.socketPath)
            #expect(run.status == 3, "\(json)")
            #expect(run.stderr == Self.prefix + message + "\n", "\(json)")
        }
    }

    @Test func anUnknownFieldListsTheFieldsThereAre() throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let run = try CrmctlRun.run(["call", Self.createPerson, #"{"person":{"nmae":"Ada"}}"#], socket: crmd.socketPath)
        #expect(run.status == 3)
        #expect(run.stderr.hasPrefix(Self.prefix + "person.nmae: no such field in crm.contacts.v1.Person; fields: "
            + "id, firstName, lastName, emails, phones, addresses, jobTitle, organizationId,"), "\(run.stderr)")
        // A sales enum, with sales served: the accepted names come from the type.
        let forecast = try CrmctlRun.run(["call", "/crm.sales.v1.Sales/GetForecast", #"{"period":"PERIOD_DECADE"}"#],
                                         socket: crmd.socketPath)
        #expect(forecast.status == 3)
        #expect(forecast.stderr == "crmctl: INVALID_ARGUMENT: request is not valid JSON for crm.sales.v1.GetForecastRequest: "
            + #"period: expected one of PERIOD_MONTH, PERIOD_QUARTER (or its number), got "PERIOD_DECADE""# + "\n")
    }

    @Test func textThatIsNotJSONAtAllSaysSo() throws {
        let crmd = try CrmdProcess(plugins: [])
        // No contacts plugin: crmctl's own knowledge of the type still checks the request.
        let run = try CrmctlRun.run(["call", Self.createPerson, #"{"person":"#], socket: crmd.socketPath)
        #expect(run.status == 3)
        #expect(run.stderr.hasPrefix(Self.prefix + "not JSON: "), "\(run.stderr)")
        let fine = try CrmctlRun.run(["call", Self.createPerson, #"{"person":{"firstName":"Ada","organizationId":"7"}}"#],
                                     socket: crmd.socketPath)
        #expect(fine.status == 12)  // well-formed: sent, and crmd answers
    }
}
