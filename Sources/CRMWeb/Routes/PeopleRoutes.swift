import Foundation
import ContactsContract
import CRMRPCContract
import CRMWire
import Hummingbird

/// Search, the person page and its edit form.
extension WebApp {
    func addPeopleRoutes(to router: Router<BasicRequestContext>) {
        // Search as you type: the page's script asks this for each keystroke's query.
        router.get("/people/search") { request, _ -> Response in
            guard let session = session(of: request) else {
                return Responses.json(#"{"error":"not signed in"}"#, status: .unauthorized)
            }
            let query = (Self.query(request)["q"] ?? "").trimmingSpaces
            guard !query.isEmpty else { return Responses.json(#"{"people":[]}"#) }
            do {
                let found = try await contacts.search(query, for: session.user)
                let people = found.people.map { p in
                    #"{"id":\#(p.id),"name":\#(JSON.string(PeoplePages.name(p))),"detail":\#(JSON.string(PeoplePages.detail(p)))}"#
                }
                return Responses.json(#"{"people":[\#(people.joined(separator: ","))]}"#)
            } catch let error as RPCError {
                let (status, title, _) = ErrorPage.describe(error)
                return Responses.json(#"{"error":\#(JSON.string(title + ": " + error.message)),"status":"\#(error.code.name)"}"#,
                                      status: status)
            }
        }

        router.get("/people/:id") { request, context -> Response in
            guard let session = session(of: request) else { return Responses.redirect("/") }
            guard let id = Self.personID(context) else { return notFound(session) }
            return try await guarded(session) {
                let query = Self.query(request)
                let size = query["size"].flatMap { Int32($0) }.map { min(max($0, 1), 100) } ?? 20
                let token = query["timeline"] ?? ""
                let person = try await contacts.person(id, for: session.user)
                var organization: String?
                if person.organizationID != 0 {
                    organization = try? await contacts.organization(person.organizationID, for: session.user).name
                }
                let definitions = try await contacts.personFields(for: session.user)
                let timeline = try await contacts.timeline(person: id, pageSize: size, pageToken: token, for: session.user)
                let page = PeoplePages.TimelinePage(entries: timeline.entries, nextToken: timeline.nextPageToken,
                                                    isFirst: token.isEmpty, pageSize: size)
                return Responses.html(PeoplePages.person(session: session, person: person, organization: organization,
                                                         definitions: definitions, timeline: page))
            }
        }

        router.get("/people/:id/edit") { request, context -> Response in
            guard let session = session(of: request) else { return Responses.redirect("/") }
            guard let id = Self.personID(context) else { return notFound(session) }
            return try await guarded(session) {
                let person = try await contacts.person(id, for: session.user)
                let definitions = try await contacts.personFields(for: session.user)
                return Responses.html(PersonForm(person: person).render(
                    session: session, id: id, title: PeoplePages.name(person), definitions: definitions,
                    errors: [:], banner: nil))
            }
        }

        router.post("/people/:id/edit") { request, context -> Response in
            guard let session = session(of: request) else { return Responses.redirect("/") }
            let form = try await readForm(request)
            if let refusal = checkToken(form, session) { return refusal }
            guard let id = Self.personID(context) else { return notFound(session) }
            return try await guarded(session) {
                let current = try await contacts.person(id, for: session.user)
                let definitions = try await contacts.personFields(for: session.user)
                let edited = PersonForm(form: form, definitions: definitions)
                do {
                    _ = try await contacts.update(edited.request(id: id, current: current, definitions: definitions),
                                                  for: session.user)
                    return Responses.redirect("/people/\(id)")
                } catch let error as RPCError where Self.formStatuses.contains(error.code) {
                    var errors: [String: String] = [:]
                    var banner: String?
                    let field = error.code == .aborted ? nil
                        : FieldErrors.field(of: error.message, fields: PersonForm.fieldNames(definitions))
                    if let field {
                        errors[field] = error.message
                    } else if error.code == .aborted {
                        banner = "Someone changed this person after you opened the form. Open it again to see their change."
                    } else {
                        banner = error.message
                    }
                    return Responses.html(edited.render(session: session, id: id, title: PeoplePages.name(current),
                                                        definitions: definitions, errors: errors, banner: banner),
                                          status: error.code == .aborted ? .conflict : .unprocessableContent)
                }
            }
        }
    }

    /// The refusals the edit form is shown again for, with the message.
    static let formStatuses: [Crm_Rpc_V1_StatusCode] = [.invalidArgument, .aborted, .failedPrecondition, .alreadyExists]

    func searchPage(_ request: Request, _ session: WebSession) async throws -> Response {
        let query = (Self.query(request)["q"] ?? "").trimmingSpaces
        guard !query.isEmpty else { return Responses.html(PeoplePages.search(session: session, query: "", results: nil)) }
        return try await guarded(session) {
            let found = try await contacts.search(query, for: session.user)
            return Responses.html(PeoplePages.search(session: session, query: query, results: found.people))
        }
    }

    /// A positive id from the path; nil for anything else.
    static func personID(_ context: BasicRequestContext) -> Int64? {
        guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else { return nil }
        return id
    }

    func notFound(_ session: WebSession) -> Response {
        ErrorPage.plain(.notFound, title: "Not found", explanation: "There is no such page.", session: session)
    }
}

/// JSON text for the search answers.
enum JSON {
    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            // Also < > &, so the text is safe even if someone puts it in HTML.
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                out += String(format: "\\u%04x", scalar.value)
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}
