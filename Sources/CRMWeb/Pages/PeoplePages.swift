import ContactsContract

/// The search page (the signed-in start page) and the person page.
enum PeoplePages {
    static func search(session: WebSession, query: String, results: [Crm_Contacts_V1_Person]?) -> String {
        var list = ""
        if let results {
            list = results.isEmpty ? "<li class=\"none\">No one found.</li>" : results.map(row).joined()
        }
        return HTML.page(title: "Customers", session: session, body: """
            <h1>Customers</h1>
            <form method="get" action="/" class="search" role="search">
            <label for="search">Search people by name, email, phone, organization or tag</label>
            <input id="search" name="q" type="search" autocomplete="off" autofocus value="\(HTML.esc(query))"
              data-search-url="/people/search" placeholder="Ada, ada@…, +44…">
            <noscript><button type="submit">Search</button></noscript>
            </form>
            <ul id="results" class="results" aria-live="polite">\(list)</ul>
            """)
    }

    static func name(_ p: Crm_Contacts_V1_Person) -> String {
        let full = [p.firstName, p.lastName].filter { !$0.isEmpty }.joined(separator: " ")
        return full.isEmpty ? "Person \(p.id)" : full
    }

    /// A person's second line in a result: primary email, phone, title.
    static func detail(_ p: Crm_Contacts_V1_Person) -> String {
        [p.emails.first?.address ?? "", p.phones.first?.number ?? "", p.jobTitle].filter { !$0.isEmpty }.joined(separator: " · ")
    }

    private static func row(_ p: Crm_Contacts_V1_Person) -> String {
        "<li><a href=\"/people/\(p.id)\">\(HTML.esc(name(p)))</a> <span class=\"detail\">\(HTML.esc(detail(p)))</span></li>"
    }

    struct TimelinePage {
        var entries: [Crm_Contacts_V1_TimelineEntry]
        var nextToken: String
        var isFirst: Bool
        var pageSize: Int32
    }

    static func person(session: WebSession, person p: Crm_Contacts_V1_Person, organization: String?,
                       definitions: [Crm_Contacts_V1_CustomFieldDefinition], timeline: TimelinePage) -> String {
        var notices = ""
        if p.erasedUnixUs != 0 { notices += "<p class=\"notice\">Erased (GDPR) on \(HTML.time(p.erasedUnixUs)).</p>" }
        if p.mergedIntoID != 0 {
            notices += "<p class=\"notice\">Merged into <a href=\"/people/\(p.mergedIntoID)\">person \(p.mergedIntoID)</a>.</p>"
        }
        if p.deletedUnixUs != 0 { notices += "<p class=\"notice\">Deleted on \(HTML.time(p.deletedUnixUs)).</p>" }

        var fields: [(String, String, String)] = []  // id, label, HTML value
        func add(_ id: String, _ label: String, _ text: String) {
            if !text.isEmpty { fields.append((id, label, HTML.esc(text))) }
        }
        add("emails", "Email", p.emails.map { $0.label.isEmpty ? $0.address : "\($0.address) (\($0.label))" }.joined(separator: ", "))
        add("phones", "Phone", p.phones.map { $0.label.isEmpty ? $0.number : "\($0.number) (\($0.label))" }.joined(separator: ", "))
        add("job_title", "Job title", p.jobTitle)
        if p.organizationID != 0 {
            fields.append(("organization", "Organization", HTML.esc(organization ?? "Organization \(p.organizationID)")))
        }
        for (i, a) in p.addresses.enumerated() {
            add("address-\(i)", a.label.isEmpty ? "Address" : "Address (\(a.label))",
                [a.street, a.city, a.region, a.postalCode, a.country].filter { !$0.isEmpty }.joined(separator: ", "))
        }
        add("lifecycle_stage", "Lifecycle stage", stageName(p.lifecycleStage))
        add("owner", "Owner", p.owner)
        add("source", "Source", p.source)
        add("external_id", "External id", p.externalID)
        add("notes", "Notes", p.notes)
        add("created", "Created", HTML.time(p.createdUnixUs))
        add("updated", "Updated", HTML.time(p.updatedUnixUs))
        let fieldList = fields.map { "<dt>\(HTML.esc($0.1))</dt><dd id=\"field-\($0.0)\">\($0.2)</dd>" }.joined()

        let tags = p.tags.isEmpty ? "<p class=\"none\">No tags.</p>"
            : "<ul class=\"tags\" id=\"tags\">" + p.tags.map { "<li>\(HTML.esc($0))</li>" }.joined() + "</ul>"

        var custom = ""
        let labels = Dictionary(definitions.map { ($0.key, $0.label.isEmpty ? $0.key : $0.label) }, uniquingKeysWith: { a, _ in a })
        for key in p.customFields.keys.sorted() {
            custom += "<dt>\(HTML.esc(labels[key] ?? key))</dt><dd id=\"custom-\(HTML.esc(key))\">\(HTML.esc(text(p.customFields[key]!)))</dd>"
        }
        let customHTML = custom.isEmpty ? "<p class=\"none\">No custom fields set.</p>" : "<dl class=\"fields\" id=\"custom-fields\">\(custom)</dl>"

        return HTML.page(title: name(p), session: session, body: """
            <p><a href="/">← Search</a></p>
            <h1 id="person-name">\(HTML.esc(name(p)))</h1>\(notices)
            <p><a class="button" id="edit" href="/people/\(p.id)/edit">Edit</a></p>
            <section><h2>Details</h2><dl class="fields" id="fields">\(fieldList)</dl></section>
            <section><h2>Tags</h2>\(tags)</section>
            <section><h2>Custom fields</h2>\(customHTML)</section>
            <section><h2>Timeline</h2>\(timelineHTML(p.id, timeline))</section>
            """)
    }

    /// Newest first; counts per kind (the topic) of the entries on this page,
    /// as contacts gives no totals; older pages by the socket's page token.
    private static func timelineHTML(_ id: Int64, _ page: TimelinePage) -> String {
        guard !page.entries.isEmpty else { return "<p class=\"none\" id=\"timeline-empty\">Nothing on the timeline yet.</p>" }
        var counts: [String: Int] = [:]
        for entry in page.entries { counts[entry.topic, default: 0] += 1 }
        let countList = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "<li><code>\(HTML.esc($0.key))</code> <span class=\"count\">\($0.value)</span></li>" }.joined()
        let rows = page.entries.map { e in
            "<tr data-sequence=\"\(e.sequence)\"><td class=\"when\">\(HTML.time(e.occurredUnixUs))</td><td><code>\(HTML.esc(e.topic))</code></td><td>\(HTML.esc(e.summary))</td></tr>"
        }.joined()
        var nav = ""
        if !page.isFirst { nav += "<a id=\"timeline-newest\" href=\"/people/\(id)?size=\(page.pageSize)\">Newest</a> " }
        if !page.nextToken.isEmpty {
            nav += "<a id=\"timeline-older\" href=\"/people/\(id)?size=\(page.pageSize)&amp;timeline=\(HTML.esc(Form.encode(page.nextToken)))\">Older →</a>"
        }
        return """
            <p class="counts-label">On this page, by kind:</p><ul class="counts" id="timeline-counts">\(countList)</ul>
            <table class="timeline" id="timeline"><thead><tr><th>When</th><th>Kind</th><th>What</th></tr></thead>
            <tbody>\(rows)</tbody></table>
            <p class="pager">\(nav)</p>
            """
    }

    static func text(_ value: Crm_Contacts_V1_FieldValue) -> String {
        switch value.value {
        case .text(let v)?, .number(let v)?, .date(let v)?, .choice(let v)?: return v
        case nil: return ""
        }
    }

    static let stages: [(Crm_Contacts_V1_LifecycleStage, String)] = [
        (.unspecified, ""), (.subscriber, "Subscriber"), (.lead, "Lead"), (.qualified, "Qualified"),
        (.opportunity, "Opportunity"), (.customer, "Customer"), (.evangelist, "Evangelist"), (.other, "Other"),
    ]

    static func stageName(_ stage: Crm_Contacts_V1_LifecycleStage) -> String {
        stages.first { $0.0 == stage }?.1 ?? ""
    }
}
