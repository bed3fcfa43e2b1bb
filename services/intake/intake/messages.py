"""What intake tells people, Spanish first, keyed by rule code.

Written in our own words; the rules page (`rules-page-es.txt`) is only the source of
the rules, not of the texts.
"""
from __future__ import annotations

from helpdesk_shared.errors import Message, RuleViolation

_EXAMPLE = "BANCOS, Factura mal cargada en el banco Mercantil"

# code -> (status, Spanish, English); `{name}` placeholders are filled by `violation`.
TEXTS: dict[str, tuple[int, str, str]] = {
    "R4_SUBJECT_FORMAT": (
        422,
        "El asunto debe identificar el módulo y el caso, separados por una coma (regla 4). "
        f"Por ejemplo: «{_EXAMPLE}».",
        "The subject must name the module and the case, separated by a comma (rule 4). "
        f"For example: “{_EXAMPLE}”.",
    ),
    "R4_UNKNOWN_MODULE": (
        422,
        "El módulo indicado en el asunto no pertenece a esta mesa. Escoja uno de estos: "
        f"{{modules}}. Por ejemplo: «{_EXAMPLE}».",
        "The module named in the subject does not belong to this desk. Pick one of: "
        f"{{modules}}. For example: “{_EXAMPLE}”.",
    ),
    "R4_VAGUE_SUBJECT": (
        422,
        "El asunto es demasiado general. La regla 4 pide identificar el módulo y resumir el "
        "caso en pocas palabras concretas; evite asuntos como «Urgente», «¿Qué pasaría?» o "
        f"escritos todo en mayúsculas. Por ejemplo: «{_EXAMPLE}».",
        "The subject is too vague. Rule 4 asks you to name the module and sum up the case "
        "in a few specific words; avoid subjects such as “Urgente”, “¿Qué pasaría?” or text "
        f"written all in capitals. For example: “{_EXAMPLE}”.",
    ),
    "R5_DESCRIPTION_REQUIRED": (
        422,
        "Describa el caso: la descripción es obligatoria (regla 5).",
        "Describe the case: the description is required (rule 5).",
    ),
    "R5_DESCRIPTION_THIN": (
        422,
        "La descripción no trae los datos necesarios para resolver el caso sin tener que "
        "contactarlo (regla 5). Indique el número de acción, las fechas involucradas, los "
        "comprobantes contables, la ruta completa del menú si se trata de un proceso o "
        "reporte, y adjunte capturas de pantalla.",
        "The description lacks the details needed to solve the case without contacting "
        "you (rule 5). Give the member share number (número de acción), the dates involved, "
        "the accounting vouchers (comprobantes), the full menu path of the process or "
        "report, and attach screenshots.",
    ),
    "R5_FIELD_INVALID": (
        422,
        "Uno de los datos del caso no tiene un formato válido ({field}). Revíselo y vuelva "
        "a enviarlo.",
        "One of the case details is not valid ({field}). Check it and send it again.",
    ),
    "CONTACT_REQUIRED": (
        422,
        "El nombre, el correo electrónico y el teléfono de contacto forman parte de todo "
        "ticket (regla 3): así no hace falta llamar y lo contactamos si es necesario. "
        "Complete o corrija el dato ({field}).",
        "Your name, e-mail and phone are part of every ticket (rule 3): that way there is "
        "no need to call, and we contact you if needed. Fill in or correct the detail "
        "({field}).",
    ),
    "URGENT_NOT_ALLOWED": (
        422,
        "Un caso es urgente única y exclusivamente cuando: (a) toda la plataforma está "
        "parada; (b) la facturación a socios está detenida; o (c) su organización está en "
        "un proceso especial, de carnetización u otro, avisado con antelación. Los pagos de "
        "nómina, la emisión de cheques, los archivos del SENIAT y los informes contables no "
        "son urgencias: no los deje para el último día.",
        "A case is urgent only when: (a) the whole platform is down; (b) billing to members "
        "has stopped; or (c) your organisation is running a special process, ID cards or "
        "other, announced in advance. Payroll, cheques, SENIAT files and accounting reports "
        "are not urgent: please don't leave them for the last day.",
    ),
    "URGENT_NO_ANNOUNCEMENT": (
        422,
        "Para tratar el caso como proceso especial, su organización debe haberlo avisado con "
        "antelación y el aviso debe cubrir este momento. No encontramos un aviso vigente.",
        "To treat the case as a special process, your organisation must have announced it "
        "in advance, for a period that covers now. We found no such announcement.",
    ),
    "R6_DUPLICATE_OPEN_CASE": (
        409,
        "Ya existe un ticket abierto para este caso, el {number}. Continúe en ese ticket "
        "(regla 6) o confirme que se trata de un caso distinto.",
        "There is already an open ticket for this case, {number}. Carry on in that ticket "
        "(rule 6), or confirm that this is a different case.",
    ),
    "TICKET_CLOSED": (
        409,
        "El ticket {number} está cerrado: no admite mensajes ni se reabre. Si el caso no "
        "quedó resuelto, abra un ticket nuevo, documéntelo desde cero e indique el {number} "
        "como ticket anterior.",
        "Ticket {number} is closed: it takes no messages and is not reopened. If the case "
        "is not solved, open a new ticket, document it from scratch and quote {number} as "
        "the previous ticket.",
    ),
    "PREVIOUS_TICKET_INVALID": (
        422,
        "El ticket anterior debe ser un ticket cerrado de su organización.",
        "The previous ticket must be a closed ticket of your organisation.",
    ),
    "DESK_NOT_ALLOWED": (
        403,
        "Su usuario no tiene acceso a esta mesa de ayuda.",
        "Your user has no access to this desk.",
    ),
    "ORGANISATION_NOT_ON_DESK": (
        422,
        "La organización indicada no es atendida por la mesa {desk}.",
        "The organisation given is not served by the {desk} desk.",
    ),
    "INTERNAL_NOTE_FORBIDDEN": (
        403,
        "Solo los agentes de soporte pueden escribir notas internas.",
        "Only support agents can write internal notes.",
    ),
    "TIME_SPENT_STAFF_ONLY": (
        403,
        "Solo el personal de soporte registra el tiempo dedicado a una respuesta.",
        "Only support staff record the time spent on an answer.",
    ),
    "CANNED_ANSWER_UNKNOWN": (
        422,
        "La respuesta predefinida indicada no existe en la mesa del ticket o ya no se ofrece.",
        "The canned answer given does not exist on the ticket's desk or is no longer offered.",
    ),
    "CANNED_ANSWER_CHANGED": (
        409,
        "Otra persona guardó esta respuesta predefinida mientras usted la editaba (versión actual: {current}). "
        "Recargue y vuelva a aplicar sus cambios.",
        "Someone else saved this canned answer while you were editing it (current version: {current}). "
        "Reload and apply your changes again.",
    ),
    "CANNED_ANSWER_ID_INVALID": (
        422,
        "El identificador de la respuesta debe ir en minúsculas, con letras, números y guiones (máximo 64).",
        "The answer's identifier must be lower case letters, digits and hyphens (at most 64).",
    ),
    "CANNED_TEXT_REQUIRED": (
        422,
        "Escriba el título y el texto de la respuesta; no pueden ir vacíos.",
        "Write the answer's title and text; they cannot be empty.",
    ),
    "CANNED_PLACEHOLDER_UNKNOWN": (
        422,
        "El texto usa marcadores que no existen: {unknown}. Los válidos son: {valid}.",
        "The text uses placeholders that do not exist: {unknown}. The valid ones are: {valid}.",
    ),
    "MESSAGE_BODY_REQUIRED": (
        422,
        "Escriba el texto del mensaje; no puede ir vacío.",
        "Write the message text; it cannot be empty.",
    ),
    "ATTACHMENT_TOO_LARGE": (
        413,
        "El archivo supera el tamaño máximo de {limit_mb} MB por archivo.",
        "The file is larger than the {limit_mb} MB limit per file.",
    ),
    "ATTACHMENTS_TOTAL_TOO_LARGE": (
        413,
        "Los adjuntos de este ticket superarían en total el máximo de {limit_mb} MB.",
        "This ticket's attachments would exceed the {limit_mb} MB total limit.",
    ),
    "ATTACHMENT_TYPE_REFUSED": (
        415,
        "No aceptamos este tipo de archivo: se rechazan los programas ejecutables, las "
        "páginas HTML, los scripts, los archivos comprimidos (zip, rar, 7z, tar, gz) y los "
        "documentos con macros (docm, xlsm, pptm). Puede adjuntar imágenes, PDF, texto o CSV "
        "y documentos de oficina sin macros (Word, Excel, PowerPoint, LibreOffice).",
        "This file type is not accepted: executables, HTML pages, scripts, archives (zip, "
        "rar, 7z, tar, gz) and documents with macros (docm, xlsm, pptm) are refused. You may "
        "attach images, PDF, text or CSV files and office documents without macros (Word, "
        "Excel, PowerPoint, LibreOffice).",
    ),
    "ATTACHMENT_UNKNOWN": (
        422,
        "El adjunto indicado no existe o no fue cargado por usted.",
        "The referenced upload does not exist or is not yours.",
    ),
    "TOO_MANY_ATTACHMENTS": (
        422,
        "Son demasiados adjuntos para un solo mensaje; repártalos en varios mensajes.",
        "Too many attachments for one message; spread them over several messages.",
    ),
    "AUTH_REQUIRED": (
        401,
        "Inicie sesión para continuar.",
        "Please log in to continue.",
    ),
    "AUTH_INVALID": (
        401,
        "El correo electrónico o la contraseña no son correctos.",
        "Wrong e-mail or password.",
    ),
    "ACCOUNT_DISABLED": (
        403,
        "Su cuenta está desactivada. Pida a la mesa de ayuda que la active de nuevo.",
        "Your account is disabled. Ask the help desk to enable it again.",
    ),
    "FORBIDDEN": (
        403,
        "No tiene permiso para realizar esta acción.",
        "You are not allowed to do this.",
    ),
    "INVALID_REQUEST": (
        400,
        "La solicitud no es válida: {detail}",
        "The request is not valid: {detail}",
    ),
    "RESOLUTION_NOT_EXPECTED": (
        409,
        "Este ticket no espera su confirmación: todavía no tiene una respuesta del equipo de "
        "soporte. Si desea agregar información, escriba un mensaje en el ticket.",
        "This ticket is not waiting for your confirmation: the support team has not answered "
        "it yet. To add information, post a message on the ticket.",
    ),
    "RESOLUTION_LINK_INVALID": (
        400,
        "El enlace no es válido o ya venció. Entre al portal y responda desde el ticket.",
        "The link is not valid or has expired. Log in to the portal and answer from the ticket.",
    ),
    "ACCESS_REQUEST_INVALID": (
        422,
        "Para solicitar acceso indique su nombre, correo, teléfono, la organización (club o "
        "empresa) a la que pertenece y la mesa (SOPORTE o IMPLANTACIONES).",
        "To request access give your name, e-mail, phone, the organisation (club or company) "
        "you belong to and the desk (SOPORTE or IMPLANTACIONES).",
    ),
    "ACCESS_ALREADY_GRANTED": (
        409,
        "Esta solicitud ya fue aprobada, o ya existe un usuario con ese correo.",
        "This request was already granted, or a user with that e-mail already exists.",
    ),
    "TRAINING_REQUEST_INVALID": (
        422,
        "Indique los módulos del curso de inducción (por ejemplo NOMINA, BANCOS) y cuántas "
        "personas lo tomarán (de 1 a 50).",
        "Give the modules of the induction course (e.g. NOMINA, BANCOS) and how many people "
        "will take it (1 to 50).",
    ),
    "PASSWORD_LINK_USED": (
        400,
        "Este enlace ya se usó para escoger una contraseña. Entre al portal con ella, o pida a "
        "soporte un enlace nuevo si la olvidó.",
        "This link was already used to choose a password. Log in with it, or ask support for a "
        "new link if you forgot it.",
    ),
    "ATTACHMENT_EMPTY": (
        422,
        "El archivo está vacío (0 bytes); adjunte el archivo con su contenido.",
        "The file is empty (0 bytes); attach the file with its content.",
    ),
    "PASSWORD_TOO_SHORT": (
        422,
        "La contraseña debe tener al menos 10 caracteres.",
        "The password must be at least 10 characters long.",
    ),
    "AWAY_BACK_AT_INVALID": (
        422,
        "Indique la fecha y hora de regreso con su zona horaria, en formato ISO 8601 (por "
        "ejemplo 2026-11-30T09:00:00-04:00).",
        "Give the return date and time with its time zone, in ISO 8601 (for example "
        "2026-11-30T09:00:00-04:00).",
    ),
    "AWAY_BACK_AT_NOT_FUTURE": (
        422,
        "La fecha de regreso debe estar en el futuro: desde ella cuentan los dos días hábiles "
        "antes del cierre automático del ticket.",
        "The return date must be in the future: the two business days before the ticket closes "
        "automatically count from it.",
    ),
    "VERSION_CONFLICT": (
        409,
        "El ticket cambió mientras usted escribía. Actualice la página y vuelva a intentarlo.",
        "The ticket changed in the meantime. Reload it and try again.",
    ),
    "IDEMPOTENCY_KEY_REUSED": (
        422,
        "Esta clave de idempotencia (Idempotency-Key) ya se usó para otra solicitud. Use una "
        "clave nueva para cada solicitud distinta.",
        "This Idempotency-Key was already used for another request. Use a new key for each "
        "different request.",
    ),
    "TOO_MANY_ATTEMPTS": (
        429,
        "Demasiados intentos. Por seguridad, espere {minutes} minuto(s) antes de volver a intentarlo.",
        "Too many attempts. For your security, wait {minutes} minute(s) before trying again.",
    ),
    "ACCESS_REQUEST_RECEIVED": (
        202,
        "Recibimos su solicitud. Si corresponde darle acceso, le escribiremos a ese correo.",
        "We received your request. If access can be given, we will write to that e-mail address.",
    ),
    "ACCESS_REQUEST_EXPIRED": (
        409,
        "Esta solicitud de acceso venció sin ser aprobada; la persona debe solicitarlo de nuevo.",
        "This access request expired before it was approved; the person must ask again.",
    ),
    "ACCESS_REQUEST_DECIDED": (
        409,
        "Esta solicitud de acceso ya fue aprobada o rechazada.",
        "This access request was already granted or rejected.",
    ),
    "REJECTION_REASON_REQUIRED": (
        422,
        "Indique el motivo del rechazo (hasta 500 caracteres).",
        "Give the reason for the rejection (up to 500 characters).",
    ),
    # A desk's module catalog, edited by a supervisor (intake.catalog).
    "R4_MODULE_RETIRED": (
        422,
        "El módulo {module} ya no se usa en esta mesa para casos nuevos. Escoja uno de estos: "
        f"{{modules}}. Por ejemplo: «{_EXAMPLE}».",
        "The module {module} is no longer used on this desk for new cases. Pick one of: "
        f"{{modules}}. For example: “{_EXAMPLE}”.",
    ),
    "CATALOG_EMPTY": (
        422,
        "El catálogo debe tener entre 1 y 60 módulos, y al menos uno activo para casos nuevos.",
        "The catalog must have between 1 and 60 modules, and at least one open to new cases.",
    ),
    "CATALOG_MODULE_CODE_INVALID": (
        422,
        "El código de módulo «{module}» no es válido: use de 2 a 20 letras mayúsculas, dígitos o "
        "guion bajo, empezando por una letra (por ejemplo NOMINA).",
        "The module code “{module}” is not valid: use 2 to 20 capital letters, digits or "
        "underscores, starting with a letter (e.g. NOMINA).",
    ),
    "CATALOG_MODULE_NAME_REQUIRED": (
        422,
        "Indique el nombre del módulo {module}.",
        "Give the name of the module {module}.",
    ),
    "CATALOG_MODULE_DUPLICATE": (
        422,
        "El módulo {module} aparece dos veces (mismo código o mismo nombre).",
        "The module {module} appears twice (same code or same name).",
    ),
    "CATALOG_MODULE_REMOVED": (
        422,
        "El módulo {module} no puede quitarse del catálogo: hay tickets que lo nombran. "
        "Márquelo como retirado para que no se use en casos nuevos.",
        "The module {module} cannot be removed from the catalog: tickets name it. Mark it "
        "retired so new cases do not use it.",
    ),
    "CATALOG_VERSION_CONFLICT": (
        409,
        "Otra persona cambió el catálogo de esta mesa mientras usted lo editaba (versión actual: "
        "{version}). Recargue la página y vuelva a aplicar sus cambios.",
        "Someone else changed this desk's catalog while you were editing it (current version: "
        "{version}). Reload the page and apply your changes again.",
    ),
    # Organisations and users, managed by a supervisor.
    "ORGANISATION_INVALID": (
        422,
        "Indique el nombre de la organización y al menos una de sus mesas (solo las suyas).",
        "Give the organisation's name and at least one of its desks (only your own desks).",
    ),
    "ORGANISATION_EXISTS": (
        409,
        "Ya existe una organización con ese nombre o identificador.",
        "An organisation with that name or identifier already exists.",
    ),
    "USER_INVALID": (
        422,
        "Revise los datos del usuario ({field}): un cliente pertenece a una organización y solo "
        "a mesas de ella; el personal no pertenece a ninguna.",
        "Check the user's details ({field}): a customer belongs to one organisation and only to "
        "its desks; staff belong to none.",
    ),
    "USER_EXISTS": (
        409,
        "Ya existe un usuario con ese correo electrónico.",
        "A user with that e-mail address already exists.",
    ),
    # Warnings, not refusals: the ticket is still opened.
    "SUBJECT_URGENCY_DROPPED": (
        200,
        "Quitamos «urgente» del asunto: el asunto nombra el módulo y el caso (regla 4), y la "
        "urgencia no se pide con palabras. Un caso es urgente única y exclusivamente cuando "
        "(a) toda la plataforma está parada, (b) la facturación a socios está detenida o (c) su "
        "organización está en un proceso especial avisado con antelación; en esos casos "
        "indíquelo en el campo de urgencia.",
        "We removed “urgent” from the subject: the subject names the module and the case "
        "(rule 4), and urgency is not asked for in words. A case is urgent only when (a) the "
        "whole platform is down, (b) billing to members has stopped, or (c) your organisation "
        "is running a special process announced in advance; in those cases choose it in the "
        "urgency field.",
    ),
    "MONTH_END_WARNING": (
        200,
        "Faltan pocos días hábiles para el cierre de {month_es}. Los pagos de nómina, la emisión "
        "de cheques, los archivos del SENIAT y los informes contables no son casos urgentes: le "
        "recomendamos no dejarlos para los últimos días del mes.",
        "Only a few business days are left before the end of {month_en}. Payroll, cheques, "
        "SENIAT files and accounting reports are not urgent: please don't leave them for the "
        "last days of the month.",
    ),
    "RULES_PAGE_TEXT_REQUIRED": (
        422,
        "La página de reglas en español no puede quedar vacía: es la que ven todos los clientes.",
        "The Spanish rules page cannot be empty: every customer sees it.",
    ),
    "RULES_PAGE_CHANGED": (
        409,
        "Otra persona modificó la página de reglas mientras usted la editaba (versión actual: {current}). "
        "Recargue la página, revise sus cambios y vuelva a guardar.",
        "Someone else changed the rules page while you were editing it (current version: {current}). "
        "Reload it, check your changes and save again.",
    ),
    # knowledge base (issue 12)
    "ARTICLE_SPANISH_REQUIRED": (
        422,
        "El artículo necesita título y texto en español: es lo que leen todos los clientes.",
        "The article needs a Spanish title and text: every customer reads them.",
    ),
    "ARTICLE_UNKNOWN_MODULE": (
        422,
        "El módulo no pertenece a la mesa del artículo. Escoja uno de estos: {modules}.",
        "The module does not belong to the article's desk. Pick one of: {modules}.",
    ),
    "ARTICLE_CHANGED": (
        409,
        "Otra persona modificó el artículo mientras usted lo editaba (versión actual: {current}). "
        "Recárguelo, revise sus cambios y vuelva a guardar.",
        "Someone else changed the article while you were editing it (current version: {current}). "
        "Reload it, check your changes and save again.",
    ),
    "ARTICLE_STATUS": (
        409,
        "El estado actual del artículo no admite ese cambio (por ejemplo, publicar uno ya publicado).",
        "The article's current status does not allow that change (publishing a published one, say).",
    ),
    "UNKNOWN_PARAMETER": (
        422,
        "El parámetro «{field}» no existe aquí. Los válidos son: {valid}.",
        "There is no parameter '{field}' here. The valid ones are: {valid}.",
    ),
    # Issue 12, merge (rule 6 after the fact). A target that does not exist and one the caller may not
    # see get the same answer, so the number of another desk's ticket tells nothing.
    "MERGE_TARGET_NOT_FOUND": (
        404,
        "No existe el ticket {number} o no tiene acceso a él.",
        "Ticket {number} does not exist or you have no access to it.",
    ),
    "MERGE_INTO_ITSELF": (
        422,
        "Un ticket no se puede fusionar consigo mismo: indique el ticket abierto del mismo caso.",
        "A ticket cannot be merged into itself: give the open ticket of the same case.",
    ),
    "MERGE_ACROSS_ORGANISATIONS": (
        422,
        "Solo se fusionan tickets de la misma organización: el {number} es de otra (regla 6).",
        "Only tickets of the same organisation are merged: {number} belongs to another one (rule 6).",
    ),
    "MERGE_ACROSS_DESKS": (
        422,
        "Solo se fusionan tickets de la misma mesa: el {number} es de otra.",
        "Only tickets of the same desk are merged: {number} belongs to another desk.",
    ),
    "MERGE_TARGET_CLOSED": (
        409,
        "El ticket {number} está cerrado: fusione el duplicado con el ticket abierto del caso.",
        "Ticket {number} is closed: merge the duplicate into the case's open ticket.",
    ),
    "MERGE_SOURCE_CLOSED": (
        409,
        "El ticket {number} ya está cerrado (o ya fue fusionado) y no se puede fusionar.",
        "Ticket {number} is already closed (or already merged) and cannot be merged.",
    ),
    # The customer's verdict (issue 12).
    "RATING_NOT_CLOSED": (
        409,
        "Este ticket sigue abierto: podrá calificar la atención cuando se cierre como resuelto.",
        "This ticket is still open: you can rate the service once it is closed as solved.",
    ),
    "RATING_NOT_SOLVED": (
        409,
        "Este ticket no se cerró como resuelto, así que no se puede calificar la atención.",
        "This ticket was not closed as solved, so the service cannot be rated.",
    ),
    "RATING_NOT_REQUESTER": (
        403,
        "Solo la persona que abrió el ticket puede calificar la atención.",
        "Only the person who opened the ticket can rate the service.",
    ),
    "RATING_ALREADY_GIVEN": (
        409,
        "La atención de este ticket ya fue calificada. Gracias por su opinión.",
        "The service on this ticket was already rated. Thank you for your feedback.",
    ),
    "RATING_LINK_INVALID": (
        400,
        "El enlace para calificar no es válido o ya venció. Entre al portal y califique desde el ticket.",
        "The rating link is not valid or has expired. Log in to the portal and rate from the ticket.",
    ),
}


# How a field named in an error reads in each language (the API still returns the name).
_FIELD_LABELS: dict[str, tuple[str, str]] = {
    "contact": ("datos de contacto", "contact details"),
    "contact.name": ("nombre", "name"),
    "contact.email": ("correo electrónico", "e-mail"),
    "contact.phone": ("teléfono", "phone"),
    "member_number": ("número de acción", "member share number"),
    "dates": ("fechas", "dates"),
    "vouchers": ("comprobantes", "vouchers"),
    "menu_path": ("ruta del menú", "menu path"),
    "email": ("correo electrónico", "e-mail"),
    "phone": ("teléfono", "phone"),
    "name": ("nombre", "name"),
}


def _show(value: object) -> str:
    """Render a format value for a reader: sequences become a comma-separated list."""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def message(code: str, **fmt: object) -> Message:
    """The Spanish and English texts of `code`, with `fmt` filled in."""
    _, es, en = TEXTS[code]
    shown = {name: _show(value) for name, value in fmt.items()}
    field = shown.get("field", "")
    label_es, label_en = _FIELD_LABELS.get(field, (field, field))
    return Message(es=es.format(**{**shown, "field": label_es}), en=en.format(**{**shown, "field": label_en}))


def violation(code: str, field: str | None = None, status: int | None = None, **fmt: object) -> RuleViolation:
    """A RuleViolation for `code`; status defaults to the code's own, `fmt` also goes to `extra`."""
    default_status, _, _ = TEXTS[code]
    extra = {name: list(value) if isinstance(value, tuple) else value for name, value in fmt.items()}
    text = message(code, **{"field": field or "", **fmt})
    return RuleViolation(code=code, field=field, message=text, status=status or default_status, extra=extra)
