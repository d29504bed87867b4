/**
 * Editor code shared by the connection dialog, the email task dialog and the Usage Data sidebar.
 * Node-RED serves a module's resources/ folder to the editor; each .html loads this file with
 * <script src="resources/node-red-contrib-office365-mail/editor.js"> and Node-RED runs its inline
 * scripts only once this file has loaded. Every node set's html names it, so it may run more than
 * once: the first run defines `window.office365Mail`, later runs keep it.
 *
 * Under Node (unit tests) the same factory is returned through module.exports, so the rules here
 * are tested against the runtime's (test/unit/editor-rules.test.ts) without a browser.
 *
 * Security rule: validator messages are looked up by key and never carry a value (Node-RED 4.1's
 * config-nodes sidebar renders them as HTML); data reaches the page only through .text().
 */
(function (root, factory) {
    if (typeof module === "object" && module.exports) {
        module.exports = factory();
    } else {
        root.office365Mail = root.office365Mail || factory();
    }
})(typeof window !== "undefined" ? window : this, function () {
    "use strict";

    var PACKAGE = "node-red-contrib-office365-mail";

    /** The connection's credentials, all `password` type: the editor only learns has_<name>. */
    var CREDENTIALS = ["clientSecret", "certificate", "certificatePrivateKey", "certificatePassphrase", "proxyPassword"];

    /** What the editor holds in place of a stored password: the runtime then uses the stored one. */
    var STORED_CREDENTIAL = "__PWRD__";

    // The runtime's rules (nodes/lib/settings.ts, nodes/lib/recipients.ts), spelt the same way.
    var ENV = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;
    var KEY = /^[A-Za-z0-9_-]+$/;
    var GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
    var NIL_GUID = /^0{8}-0{4}-0{4}-0{4}-0{12}$/;
    var DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;
    var SINGLE_LABEL = /^[a-z0-9-]+$/i;
    var PLAIN_ADDRESS =
        /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
    var NAMED_ADDRESS = new RegExp(
        "^(?:\"(?:[^\"\\\\\\r\\n]|\\\\[^\\r\\n])*\"|[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\\u0080-\\uffff -]+?)\\s*<" + PLAIN_ADDRESS.source.slice(1, -1) + ">$"
    );
    var DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
    var PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;
    /** One address entry, display name included (RFC 5321's longest path), as the runtime caps it. */
    var MAX_ADDRESS_ENTRY = 320;
    /** A recipient field: 1,000 entries of the longest length, as the runtime caps it. */
    var MAX_RECIPIENT_FIELD = 1000 * MAX_ADDRESS_ENTRY;
    /** allowedMailboxes' entries, as the runtime caps them. */
    var MAX_ALLOWED_MAILBOXES = 1000;

    function text(v) {
        return (v === undefined || v === null) ? "" : String(v).trim();
    }

    /** Node-RED substitutes ${NAME} in plain properties on deploy, so such a reference is taken as is. */
    function isEnv(v) {
        return ENV.test(text(v));
    }

    function integer(v) {
        var s = text(v);
        return /^[0-9]+$/.test(s) ? parseInt(s, 10) : NaN;
    }

    /** A decimal number of at least min (a whole one with integerOnly); false for anything else. */
    function numberIn(v, min, integerOnly) {
        var s = text(v);
        if (!/^[0-9]+(\.[0-9]+)?$/.test(s)) {
            return false;
        }
        var n = Number(s);
        return (!integerOnly || Math.floor(n) === n) && n >= min;
    }

    function isKey(s) {
        return KEY.test(s);
    }

    function isGuid(s) {
        return GUID.test(s);
    }

    function isNilGuid(s) {
        return NIL_GUID.test(s);
    }

    function isDomain(s) {
        return DOMAIN.test(s);
    }

    /** allowedRecipientDomains: split as the runtime splits (`,` `;` spaces), `@` in front allowed. */
    function isDomainList(s) {
        var parts = text(s).split(/[,;\s]+/);
        for (var i = 0; i < parts.length; i++) {
            var d = parts[i].replace(/^@/, "");
            if (d !== "" && !DOMAIN.test(d) && !SINGLE_LABEL.test(d)) {
                return false;
            }
        }
        return true;
    }

    /** allowedMailboxes: plain addresses split as the runtime splits them (`,` `;` spaces), at most 1,000. */
    function isMailboxList(s) {
        var parts = text(s).split(/[,;\s]+/);
        if (parts.length > MAX_ALLOWED_MAILBOXES) {
            return false;
        }
        for (var i = 0; i < parts.length; i++) {
            if (parts[i] !== "" && !isPlainAddress(parts[i])) {
                return false;
            }
        }
        return true;
    }

    /**
     * The mailboxes a connection lets the email-in node read: its senderEmail and allowedMailboxes,
     * lower-cased, as the runtime's permittedMailbox sees them. Undefined when either is an ${ENV}
     * reference (known only at deploy) or the connection is not there: the dialog cannot judge then.
     */
    function permittedMailboxes(connection) {
        if (!connection || isEnv(connection.senderEmail) || isEnv(connection.allowedMailboxes)) {
            return undefined;
        }
        var out = [];
        var sender = text(connection.senderEmail).toLowerCase();
        if (sender !== "") {
            out.push(sender);
        }
        var parts = text(connection.allowedMailboxes).split(/[,;\s]+/).slice(0, MAX_ALLOWED_MAILBOXES);
        for (var i = 0; i < parts.length; i++) {
            var m = parts[i].toLowerCase();
            if (m !== "" && isPlainAddress(m) && out.indexOf(m) < 0) {
                out.push(m);
            }
        }
        return out;
    }

    /** A bare local@host, as senderEmail must be (a host without a dot is allowed, as Exchange allows it). */
    function isPlainAddress(s) {
        return s.length <= MAX_ADDRESS_ENTRY && PLAIN_ADDRESS.test(s);
    }

    /** Splits on `,` and `;` outside quotes, angle brackets and comments, as the runtime does. One pass. */
    function splitAddressList(input) {
        var parts = [];
        var from = 0;
        var quoted = false;
        var angle = 0;
        var comment = 0;
        function cut(to) {
            var part = input.slice(from, to).trim();
            if (part.length > 0) {
                parts.push(part);
            }
        }
        for (var i = 0; i < input.length; i++) {
            var ch = input.charAt(i);
            if (quoted) {
                if (ch === "\\") {
                    i++;
                } else if (ch === "\"") {
                    quoted = false;
                }
                continue;
            }
            if (ch === "\"") {
                quoted = true;
            } else if (ch === "<") {
                angle++;
            } else if (ch === ">") {
                angle = Math.max(0, angle - 1);
            } else if (ch === "(") {
                comment++;
            } else if (ch === ")") {
                comment = Math.max(0, comment - 1);
            } else if ((ch === "," || ch === ";") && angle === 0 && comment === 0) {
                cut(i);
                from = i + 1;
            }
        }
        cut(input.length);
        return parts;
    }

    /**
     * A fixed list of recipients: each entry bare (ada@example.com) or with a display name
     * (Ada <ada@example.com>, "Bob, Jr." <bob@example.com>). Rarer RFC 5322 shapes (comments,
     * groups) are left to the runtime's parser and flagged here.
     */
    function isAddressList(s) {
        s = text(s);
        if (s.length > MAX_RECIPIENT_FIELD) {
            return false;
        }
        var parts = splitAddressList(s);
        for (var i = 0; i < parts.length; i++) {
            var a = parts[i];
            if (a.length > MAX_ADDRESS_ENTRY || !(PLAIN_ADDRESS.test(a) || NAMED_ADDRESS.test(a))) {
                return false;
            }
        }
        return true;
    }

    /** A calendar day as YYYY-MM-DD that exists (what Entra's "Expires" column shows). */
    function isDay(s) {
        var m = DAY.exec(s);
        var d = m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])) : null;
        return Boolean(d) && d.toISOString().slice(0, 10) === s;
    }

    function isHttpsUrl(s) {
        if (!/^https:\/\/[^\s/?#]+/i.test(s) || /[\s?#]/.test(s)) {
            return false;
        }
        try {
            var u = new URL(s);
            return u.protocol === "https:" && Boolean(u.hostname) && !u.username && !u.password;
        } catch (e) {
            return false;
        }
    }

    /**
     * An http(s) proxy: scheme, host and port, with an optional user name; its password belongs
     * in the credential (properties are exported with the flow).
     */
    function isProxyUrl(s) {
        try {
            var u = new URL(s);
            return (u.protocol === "http:" || u.protocol === "https:") && Boolean(u.hostname) && !u.password &&
                !u.search && !u.hash && (u.pathname === "/" || u.pathname === "");
        } catch (e) {
            return false;
        }
    }

    function hasPemCertificate(s) {
        return PEM_CERTIFICATE.test(s);
    }

    /**
     * msg(key, args): the text of `<top>.<key>` in the node set's catalogue. Outside a node
     * definition `this._` is not at hand, so the full namespace is used. translate is RED._.
     */
    function messages(set, top, translate) {
        return function (key, args) {
            var t = translate || RED._;
            return t(PACKAGE + "/" + set + ":" + top + "." + key, args);
        };
    }

    /**
     * Validator factories for Node-RED's `validate` (true, or the message to show). Each takes the
     * message key, never a value. Messages are looked up when a check runs, so they follow the
     * editor's language. A validator declares two parameters: Node-RED takes a returned string as
     * the message only from a function of length 2, and otherwise as "valid" (truthy).
     */
    function validators(msg) {
        // A check of a trimmed, non-empty value. test is a function(s) returning a boolean.
        function matches(test, messageKey) {
            return function (s) {
                return test(s) ? true : msg(messageKey);
            };
        }

        // Must be filled in; a ${NAME} reference is taken as is, anything else must pass check.
        function required(requiredKey, check) {
            return function (v, _opt) {
                var s = text(v);
                if (s === "") {
                    return msg(requiredKey);
                }
                return isEnv(s) ? true : check.call(this, s);
            };
        }

        // May be left empty; a ${NAME} reference is taken as is, anything else must pass check.
        function optional(check) {
            return function (v, _opt) {
                var s = text(v);
                return (s === "" || isEnv(s)) ? true : check.call(this, s);
            };
        }

        // One of a fixed set; empty means fallback (when there is one).
        function oneOf(values, fallback, messageKey) {
            return function (v, _opt) {
                return values.indexOf(text(v) || fallback) === -1 ? msg(messageKey) : true;
            };
        }

        // A whole number from min to max.
        function countIn(min, max, messageKey) {
            return function (s) {
                var n = integer(s);
                return (isNaN(n) || n < min || n > max) ? msg(messageKey) : true;
            };
        }

        // A number property of the email task: a ${NAME} reference, or a value that passes test.
        function envOr(test, messageKey) {
            return function (v, _opt) {
                return (isEnv(v) || test(v)) ? true : msg(messageKey);
            };
        }

        return { matches: matches, required: required, optional: optional, oneOf: oneOf, countIn: countIn, envOr: envOr };
    }

    /** While a dialog is open its field's live value wins over the saved one. */
    function liveValue(selector, saved) {
        var field = $(selector);
        return field.length && field.val() ? field.val() : saved;
    }

    /** A time from the runtime in the browser's locale; what does not parse is shown as sent. */
    function formatTime(iso) {
        var d = new Date(iso);
        return isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
    }

    /**
     * A failure the runtime sent as keys (messageKey, hintKey, noteKey, params; labelParams name
     * fields whose labels are joined), rendered in the editor's language. Falls back to the texts
     * the runtime rendered in its own language (an older runtime). label(field) gives a field's label.
     */
    function failureTexts(error, label, translate) {
        var t = translate || RED._;
        var params = {};
        var name;
        for (name in (error.params || {})) {
            if (Object.prototype.hasOwnProperty.call(error.params, name)) {
                params[name] = error.params[name];
            }
        }
        for (name in (error.labelParams || {})) {
            if (Object.prototype.hasOwnProperty.call(error.labelParams, name)) {
                params[name] = (error.labelParams[name] || []).map(label).join(", ");
            }
        }
        var message = error.messageKey ? t(error.messageKey, params) : (error.message || "");
        var hint = error.hintKey ? t(error.hintKey, params) : (error.hint || "");
        if (error.hintKey && error.noteKey) {
            hint += " " + t(error.noteKey, params);
        }
        return { message: message, hint: hint };
    }

    /**
     * A typedInput's validator message on hover: Node-RED marks the typedInput red but hangs the
     * message on the hidden input underneath, where no pointer reaches it.
     */
    function typedInputErrorTooltip(node, property, prefix) {
        var input = $("#" + (prefix || "node-input") + "-" + property);
        var container = input.next(".red-ui-typedInput-container");
        var def = node._def && node._def.defaults[property];
        if (!container.length || !def || typeof def.validate !== "function") {
            return;
        }
        RED.popover.tooltip(container, function () {
            if (!container.hasClass("input-error")) {
                return null;
            }
            var result = def.validate.call(node, input.val(), { label: def.label });
            // A string is a message by key, never a value; the popover shows it with .text().
            return typeof result === "string" ? result : null;
        });
    }

    return {
        PACKAGE: PACKAGE,
        CREDENTIALS: CREDENTIALS,
        STORED_CREDENTIAL: STORED_CREDENTIAL,
        text: text,
        isEnv: isEnv,
        integer: integer,
        numberIn: numberIn,
        isKey: isKey,
        isGuid: isGuid,
        isNilGuid: isNilGuid,
        isDomain: isDomain,
        isDomainList: isDomainList,
        isMailboxList: isMailboxList,
        isPlainAddress: isPlainAddress,
        permittedMailboxes: permittedMailboxes,
        splitAddressList: splitAddressList,
        isAddressList: isAddressList,
        isDay: isDay,
        isHttpsUrl: isHttpsUrl,
        isProxyUrl: isProxyUrl,
        hasPemCertificate: hasPemCertificate,
        messages: messages,
        validators: validators,
        liveValue: liveValue,
        formatTime: formatTime,
        failureTexts: failureTexts,
        typedInputErrorTooltip: typedInputErrorTooltip
    };
});
