import B2BContract
import CRMPluginKit
import Mustache

/// The quote document: HTML rendered by swift-mustache (marketing's
/// engine) from the module's template, a pure function of the stored
/// revision (no clock, no caller, no lookup), so the same revision renders
/// the same bytes. Its content hash is SHA-256 of those UTF-8 bytes in
/// lowercase hex; a sent revision keeps the bytes it was sent with, so its
/// hash never changes even if the template does. The document names the
/// buying organization, never a person (GDPR erasure then has nothing to
/// take out of a document a customer may have signed).
enum QuoteDocument {
    /// Bumped whenever `source` changes: drafts then render (and hash) anew.
    static let templateVersion = 1

    static let source = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>Quote {{quote.number}}</title>
        <style>
        body { font-family: sans-serif; margin: 2em; }
        table { border-collapse: collapse; width: 100%; margin-bottom: 1em; }
        th, td { border-bottom: 1px solid #ccc; padding: 4px 6px; text-align: left; }
        td.n, th.n { text-align: right; }
        </style>
        </head>
        <body>
        <h1>Quote {{quote.number}}</h1>
        <p class="title">{{quote.title}}</p>
        <dl>
        <dt>For</dt><dd>{{quote.organization_name}}</dd>
        <dt>Currency</dt><dd>{{quote.currency}}</dd>
        {{#quote.has_valid_until}}<dt>Valid until</dt><dd>{{quote.valid_until}}</dd>{{/quote.has_valid_until}}
        <dt>Rounding</dt><dd>{{quote.rounding}}</dd>
        </dl>
        {{#sections}}
        <h2>{{title}}</h2>
        <table>
        <thead><tr><th>#</th><th>Item</th><th class="n">Quantity</th><th class="n">Unit price</th><th class="n">Amount</th><th class="n">Discount</th><th class="n">Net</th><th class="n">Tax rate</th><th class="n">Tax</th><th class="n">Total</th></tr></thead>
        <tbody>
        {{#lines}}
        <tr><td>{{number}}</td><td>{{description}}{{#has_sku}} <small>({{sku}})</small>{{/has_sku}}</td><td class="n">{{quantity}} {{unit}}</td><td class="n">{{unit_price}}</td><td class="n">{{amount}}</td><td class="n">{{discount}}</td><td class="n">{{net}}</td><td class="n">{{tax_rate}}</td><td class="n">{{tax}}</td><td class="n">{{total}}</td></tr>
        {{/lines}}
        </tbody>
        <tfoot><tr><th colspan="4">{{title}}</th><th class="n">{{totals.amount}}</th><th class="n">{{totals.discount}}</th><th class="n">{{totals.net}}</th><th></th><th class="n">{{totals.tax}}</th><th class="n">{{totals.total}}</th></tr></tfoot>
        </table>
        {{/sections}}
        <table class="taxes">
        <thead><tr><th>Tax rate</th><th class="n">Base</th><th class="n">Tax</th></tr></thead>
        <tbody>
        {{#taxes}}
        <tr><td>{{rate}}</td><td class="n">{{base}}</td><td class="n">{{tax}}</td></tr>
        {{/taxes}}
        </tbody>
        </table>
        <table class="totals">
        <tr><th>Amount</th><td class="n">{{totals.amount}}</td></tr>
        <tr><th>Discount</th><td class="n">{{totals.discount}}</td></tr>
        <tr><th>Net</th><td class="n">{{totals.net}}</td></tr>
        <tr><th>Tax</th><td class="n">{{totals.tax}}</td></tr>
        <tr><th>Total ({{quote.currency}})</th><td class="n">{{totals.total}}</td></tr>
        </table>
        {{#quote.has_notes}}<div class="notes">{{quote.notes}}</div>{{/quote.has_notes}}
        </body>
        </html>

        """

    /// Parsed once per process; the pragma selects our escaping (below).
    /// nil only if the constant above stopped parsing: every render test would catch it.
    static let template: MustacheTemplate? = {
        DocumentEscaping.registerOnce
        return try? MustacheTemplate(string: "{{%CONTENT_TYPE:\(DocumentEscaping.contentTypeName)}}\n" + source)
    }()

    struct Rendered {
        var html: String
        var hash: String
    }

    static func render(_ record: QuoteStore.Record, _ revision: QuoteStore.Revision) throws -> Rendered {
        guard let template else { throw PluginError(.internal, "the quote template does not parse") }
        let html = template.render(values(record, revision))
        return Rendered(html: html, hash: SHA256.hexDigest(Array(html.utf8)))
    }

    static func values(_ record: QuoteStore.Record, _ revision: QuoteStore.Revision) -> [String: Any] {
        let priced = revision.priced
        let currency = priced.currency
        func money(_ minor: Int64) -> String { Format.money(minor, currency) }
        func totals(_ t: Totals) -> [String: Any] {
            ["amount": money(t.amountMinor), "discount": money(t.discountMinor), "net": money(t.netMinor),
             "tax": money(t.taxMinor), "total": money(t.totalMinor)]
        }
        let content = priced.content
        let sections: [[String: Any]] = content.sections.enumerated().map { s, section in
            let lines: [[String: Any]] = section.lines.enumerated().map { l, line in
                let discount = line.discountPercentBp > 0
                    ? "\(money(line.discountMinor)) (\(Format.percent(Int64(line.discountPercentBp))))" : money(line.discountMinor)
                return ["number": "\(s + 1).\(l + 1)", "description": line.description_p, "has_sku": !line.sku.isEmpty,
                        "sku": line.sku, "quantity": line.quantity, "unit": line.unit,
                        "unit_price": money(line.unitPriceMinor), "amount": money(line.amountMinor), "discount": discount,
                        "net": money(line.netMinor), "tax_rate": Format.percent(Int64(line.taxRateBp)),
                        "tax": money(line.taxMinor), "total": money(line.totalMinor)]
            }
            return ["title": section.title, "lines": lines, "totals": totals(section.totals)]
        }
        let rounding = (content.rounding.mode == .halfEven ? "half-even" : "half-up")
            + (content.rounding.level == .perLine ? ", tax per line" : ", tax on the total")
        return [
            "quote": ["number": "\(record.id)-\(revision.revision)", "title": content.title,
                      "organization_name": revision.organizationName, "currency": currency,
                      "has_valid_until": !content.validUntil.isEmpty, "valid_until": content.validUntil,
                      "rounding": rounding, "has_notes": !content.notes.isEmpty, "notes": content.notes] as [String: Any],
            "sections": sections,
            "taxes": priced.taxes.map { tax -> [String: Any] in
                ["rate": Format.percent(Int64(tax.rateBp)), "base": money(tax.baseMinor), "tax": money(tax.taxMinor)]
            },
            "totals": totals(priced.totals),
        ]
    }
}

/// HTML escaping by Unicode scalar, as marketing's: the engine's own HTML
/// type compares Characters, so a quote followed by a combining mark would
/// pass unescaped and could end an attribute.
struct DocumentEscaping: MustacheContentType {
    static let contentTypeName = "CRM_B2B_HTML"

    static let registerOnce: Void = {
        MustacheContentTypes.register(DocumentEscaping(), named: contentTypeName)
    }()

    func escapeText(_ text: String) -> String { HTMLText.escape(text) }
}
