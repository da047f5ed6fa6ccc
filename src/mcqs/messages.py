"""What the citizen reads: every domain error code, status, rejection reason and field
name, written in Azerbaijani (the source language) and read in the page's language.

The dicts map stable codes to Azerbaijani texts marked with ``N_`` for the catalogs; the
functions below translate them (``mcqs.i18n``) when they are shown. Codes stay the same in
every language: pages carry them in ``data-error``, and tests read those.
"""

from __future__ import annotations

from mcqs.errors import DomainError
from mcqs.i18n import N_, Translated, gettext

AZ: dict[str, str] = {
    # ID card and FİN
    "id_card_required": N_("Şəxsiyyət vəsiqəsinin seriya və nömrəsini daxil edin."),
    "id_card_malformed": N_(
        "Şəxsiyyət vəsiqəsinin seriya və nömrəsi düzgün deyil: AA və 7 rəqəm "
        "(məs. AA1234567) və ya AZE və 8 rəqəm (məs. AZE12345678) olmalıdır."
    ),
    "id_card_not_of_fin": N_(
        "FİN kod və şəxsiyyət vəsiqəsinin nömrəsi bir-birinə uyğun gəlmir. Hər ikisini "
        "vəsiqədən yoxlayın."
    ),
    "id_card_expired": N_(
        "Şəxsiyyət vəsiqəsinin etibarlılıq müddəti bitib. Vəsiqəni yenilədikdən sonra cihazı "
        "burada və ya poçt şöbələrindəki qeydiyyat məntəqələrində, yaxud mobil operatorların "
        "satış məntəqələrində qeydiyyatdan keçirə bilərsiniz."
    ),
    "fin_required": N_("FİN kodunu daxil edin."),
    "fin_malformed": N_("FİN kod 7 simvoldan ibarətdir: latın böyük hərfləri və rəqəmlər."),
    # IMEI
    "imei_required": N_("Mobil cihazın İMEİ kodunu daxil edin."),
    "imei_not_digits": N_("İMEİ kodu yalnız rəqəmlərdən ibarət olmalıdır."),
    "imei_wrong_length": N_(
        "İMEİ kodu 15 rəqəmdən ibarət olmalıdır (siz {length} rəqəm yazmısınız)."
    ),
    "imei_bad_check_digit": N_(
        "İMEİ kodu düzgün deyil: son (yoxlama) rəqəmi uyğun gəlmir. "
        "Kodu cihazda *#06# yığaraq yoxlayın."
    ),
    "imei_duplicate": N_("Bu İMEİ kodu artıq yuxarıdakı xanada yazılıb."),
    "imei_already_registered": N_("Bu İMEİ kodu artıq qeydiyyatdan keçib."),
    "imei_blacklisted": N_("Bu İMEİ kodu qara siyahıdadır (oğurlanmış və ya saxta cihaz)."),
    "imei_in_pending_application": N_(
        "Bu İMEİ kodu üzrə hazırda ödəniş edilir. Ödəniş edilməzsə, {until} tarixindən "
        "sonra yenidən cəhd edə bilərsiniz."
    ),
    "imei_in_paid_application": N_(
        "Bu İMEİ kodu üzrə ödənilmiş ərizə var və qeydiyyatı gözlənilir. "
        "Ərizənin vəziyyətini bildirişin kodu ilə yoxlayın."
    ),
    # security code and limits
    "security_code_required": N_("Şəkildəki təhlükəsizlik kodunu daxil edin."),
    "security_code_wrong": N_("Təhlükəsizlik kodu yanlışdır. Yenidən cəhd edin."),
    "security_code_expired": N_("Təhlükəsizlik kodunun müddəti bitib. Yeni kodu daxil edin."),
    "security_code_locked": N_(
        "Çox sayda yanlış cəhd edildi. Yeni təhlükəsizlik kodunu daxil edin."
    ),
    "too_many_checks": N_("Çox sayda sorğu göndərildi. Bir qədər sonra yenidən cəhd edin."),
    "too_many_security_codes": N_(
        "Çox sayda yeni təhlükəsizlik kodu istənildi. Bir dəqiqədən sonra yenidən cəhd edin."
    ),
    "too_many_returns": N_("Çox sayda sorğu göndərildi. Bir dəqiqədən sonra yenidən cəhd edin."),
    "too_many_open_applications": N_(
        "Bu FİN üzrə artıq {limit} ödənilməmiş ərizə var. Onlardan birini ödəyin və ya "
        "müddəti bitənədək (30 dəqiqə) gözləyin."
    ),
    # application form and payment
    "phone_required": N_("Mobil telefon nömrəsini daxil edin."),
    "phone_not_az_mobile": N_(
        "Azərbaycan mobil nömrəsini daxil edin: +994 və operator kodu "
        "(50, 51, 55, 60, 70, 77, 99, 10) və 7 rəqəm, məs. +994 50 123 45 67."
    ),
    "card_type_required": N_("Kartın növünü seçin (Visa və ya MasterCard)."),
    "application_expired": N_(
        "Ərizənin müddəti bitib. Zəhmət olmasa, məlumatları yenidən daxil edib başlayın."
    ),
    "application_not_payable": N_("Bu ərizə üzrə ödəniş artıq qəbul edilib və ya mümkün deyil."),
    "imei_hold_allowance_used": N_(
        "Bu İMEİ kodu üçün bu gün ödəniş vaxtından artıq istifadə etmisiniz. Sabah yenidən "
        "cəhd edin və ya poçt şöbəsindəki qeydiyyat məntəqəsinə, yaxud mobil operatorun satış "
        "məntəqəsinə müraciət edin."
    ),
    "payment_being_opened": N_(
        'Ödəniş səhifəsi açılır. Bir neçə saniyədən sonra yenidən "Təsdiqlə və ödəniş et" '
        "düyməsini basın."
    ),
    "application_state_changed": N_(
        "Ərizənin vəziyyəti bu arada dəyişib. Vəziyyəti bildirişin kodu ilə yoxlayın."
    ),
    "payment_in_progress": N_(
        "Bu ərizə üzrə ödənişin nəticəsi yoxlanılır. Bir neçə dəqiqədən sonra yenidən cəhd edin."
    ),
    "receipt_unknown": N_("Bu ərizə üzrə ödəniş hələ edilməyib, ona görə qəbz yoxdur."),
    "application_unknown": N_("Ərizə tapılmadı."),
    "payment_unknown": N_("Bu ödəniş MCQS-ə aid deyil. Ödənişi yenidən başlayın."),
    "payment_failed": N_(
        "Ödəniş baş tutmadı. Kart məlumatlarını yoxlayıb yenidən cəhd edin və ya başqa kartla "
        "ödəyin."
    ),
    # Why GoldenPay did not take the payment (payments.models.FailureReason), on the form.
    "payment_declined": N_(
        "Bank kartı rədd etdi, ödəniş alınmadı. Kartın məlumatlarını yoxlayın və ya başqa "
        "kartla ödəyin."
    ),
    "payment_insufficient_funds": N_(
        "Kartda kifayət qədər vəsait yoxdur, ödəniş alınmadı. Başqa kartla ödəyə bilərsiniz."
    ),
    "payment_cancelled": N_(
        'Ödənişi GoldenPay səhifəsində ləğv etdiniz. Ödəmək üçün yenidən "Təsdiqlə və ödəniş '
        'et" düyməsini seçin.'
    ),
    "payment_expired": N_(
        "Ödəniş səhifəsinin vaxtı bitdi və ödəniş edilmədi. Ödəmək üçün yenidən "
        '"Təsdiqlə və ödəniş et" düyməsini seçin.'
    ),
    "notification_code_malformed": N_("Bildirişin kodu düzgün deyil. Qəbzdəki kodu yoxlayın."),
    "notification_code_unknown": N_("Bu kod üzrə ərizə tapılmadı."),
    # at a registration point's counter
    "payment_method_required": N_("Ödəniş növünü seçin: nağd və ya kart terminalı."),
    "amount_required": N_("Alınan məbləği daxil edin."),
    "amount_malformed": N_("Məbləği manatla daxil edin, məs. 20 və ya 20.00."),
    "amount_not_fee": N_("Alınan məbləğ rüsuma ({fee}) bərabər olmalıdır."),
    "slip_reference_required": N_("Terminalın çekindəki əməliyyat nömrəsini daxil edin."),
    "slip_reference_malformed": N_(
        "Çekin əməliyyat nömrəsi 4–40 simvoldur: latın hərfləri, rəqəmlər və defis."
    ),
    "counter_form_expired": N_("Forma köhnəlib. Səhifəni yeniləyib yenidən daxil edin."),
    "day_already_closed": N_("Bu məntəqənin bu günü artıq bağlanıb."),
    "day_closed_no_payments": N_("Bu məntəqənin günü bağlanıb: bu gün daha ödəniş qəbul edilmir."),
    "day_not_closed": N_("Bu gün hələ bağlanmayıb."),
    "cancel_reason_required": N_("Ləğvin səbəbini yazın."),
    "cancel_reason_too_long": N_("Ləğvin səbəbi ən çoxu {limit} simvol ola bilər."),
    "application_not_cancellable": N_("Yalnız ödənilmiş qeydiyyat ləğv edilə bilər."),
    "refund_reference_required": N_("Bankın və ya kassanın əməliyyat nömrəsini daxil edin."),
    "refund_reference_too_long": N_("Əməliyyat nömrəsi ən çoxu 64 simvol ola bilər."),
    "refund_already_paid": N_("Bu məbləğ artıq qaytarılıb."),
    "refund_unknown": N_("Qaytarılacaq məbləğ tapılmadı."),
    # external parties
    "population_registry_unavailable": N_(
        "Əhali reyestri hazırda cavab vermir. Bir neçə dəqiqədən sonra yenidən cəhd edin."
    ),
    "goldenpay_unavailable": N_(
        "Ödəniş sistemi hazırda cavab vermir. Bir neçə dəqiqədən sonra yenidən cəhd edin."
    ),
    "sms_unavailable": N_("SMS xidməti hazırda cavab vermir."),
    # sign-in through the e-government portal ("Portala giriş")
    "egov_unavailable": N_(
        "Elektron hökumət portalı hazırda cavab vermir. Bir neçə dəqiqədən sonra yenidən "
        "cəhd edin və ya cihazı portala giriş etmədən qeydiyyatdan keçirin."
    ),
    "egov_state_invalid": N_(
        "Portala giriş sorğusu bu brauzerdən başlanmayıb, artıq istifadə olunub və ya "
        "müddəti bitib. Yenidən daxil olun."
    ),
    "egov_code_refused": N_(
        "Portal girişi təsdiq etmədi (kod artıq istifadə olunub və ya müddəti bitib). "
        "Yenidən daxil olun."
    ),
    "egov_refused": N_("Portal girişi təsdiq etmədi. Yenidən daxil olun."),
    "egov_cancelled": N_("Portala giriş ləğv edildi."),
    "egov_token_signature": N_(
        "Portaldan gələn giriş məlumatlarının imzası etibarsızdır. Giriş qəbul edilmədi."
    ),
    "egov_token_issuer": N_(
        "Giriş məlumatları gözlənilən portal tərəfindən verilməyib. Giriş qəbul edilmədi."
    ),
    "egov_token_audience": N_("Giriş məlumatları bu xidmət üçün verilməyib. Giriş qəbul edilmədi."),
    "egov_token_nonce": N_(
        "Giriş məlumatları bu giriş sorğusuna aid deyil. Giriş qəbul edilmədi; yenidən daxil olun."
    ),
    "egov_token_expired": N_(
        "Giriş məlumatlarının müddəti bitib. Giriş qəbul edilmədi; yenidən daxil olun."
    ),
    "egov_token_invalid": N_(
        "Portaldan gələn giriş məlumatları etibarsızdır. Giriş qəbul edilmədi."
    ),
    "egov_fin_missing": N_(
        "Portal FİN kodunuzu ötürmədi. Cihazı portala giriş etmədən qeydiyyatdan keçirə bilərsiniz."
    ),
    "egov_person_unknown": N_(
        "Portalda daxil olduğunuz FİN kod əhali reyestrində tapılmadı. Cihazı poçt "
        "şöbələrindəki qeydiyyat məntəqələrində və ya mobil operatorların satış "
        "məntəqələrində qeydiyyatdan keçirə bilərsiniz."
    ),
    "sign_in_required": N_(
        "Bu səhifə yalnız portala giriş etmiş vətəndaşlar üçündür. Portala daxil olun."
    ),
    "too_many_sign_ins": N_(
        "Bu brauzerdən çox sayda portala giriş cəhdi edildi. Bir dəqiqədən sonra yenidən cəhd edin."
    ),
    # staff: counters and back office
    "staff_sign_in_required": N_("Bu səhifə əməkdaşlar üçündür. Əməkdaş kimi daxil olun."),
    "staff_role_refused": N_("Bu səhifə sizin vəzifəniz üçün nəzərdə tutulmayıb."),
    "staff_record_unknown": N_("Belə qeyd tapılmadı."),
    "staff_sign_in_refused": N_("İstifadəçi adı və ya parol yanlışdır."),
    "staff_account_locked": N_(
        "Ardıcıl 5 uğursuz giriş cəhdinə (yanlış parol və ya kod) görə hesab bağlanıb. "
        "Hesabı açmaq üçün administratora müraciət edin."
    ),
    "staff_code_wrong": N_(
        "Birdəfəlik kod yanlışdır və ya artıq istifadə olunub. Tətbiqdəki yeni kodu yazın."
    ),
    "staff_sign_in_expired": N_("Girişin müddəti bitdi. İstifadəçi adı və parolu yenidən yazın."),
    "staff_username_required": N_("İstifadəçi adını yazın."),
    "staff_password_change_required": N_(
        "Sizə verilmiş parolu öz parolunuzla əvəz edin: bundan sonra digər səhifələr açılacaq."
    ),
    "staff_password_wrong": N_("İndiki parol yanlışdır."),
    "staff_password_too_short": N_("Yeni parol ən azı 10 simvoldan ibarət olmalıdır."),
    "staff_password_same": N_("Yeni parol indikindən fərqli olmalıdır."),
    "staff_password_mismatch": N_("Təkrar yazılan parol yeni parolla eyni deyil."),
    "staff_password_required": N_("Parolu yazın."),
    "staff_code_required": N_("Autentifikator tətbiqindəki 6 rəqəmli kodu yazın."),
    "too_many_staff_sign_ins": N_(
        "Bu ünvandan çox sayda giriş cəhdi edildi. Bir dəqiqədən sonra yenidən cəhd edin."
    ),
    # pages
    "page_not_found": N_("Belə səhifə yoxdur. Ünvanı yoxlayın və ya ana səhifədən başlayın."),
    "control_characters": N_(
        "Bu xanada yazıla bilməyən (idarəedici) simvol var. Xananı silib yenidən yazın."
    ),
    "field_not_text": N_("Bu xanaya yalnız mətn yazılır, fayl göndərilə bilməz."),
    "request_malformed": N_("Formada göndərilənlər oxuna bilmədi. Formanı yenidən doldurun."),
    "csrf_refused": N_(
        "Forma bu səhifədən göndərilməyib və ya sessiyanın müddəti bitib. "
        "Məlumatları yoxlayıb yenidən göndərin."
    ),
    "request_failed": N_("Sorğu yerinə yetirilə bilmədi. Yenidən cəhd edin."),
    "unexpected": N_(
        "Gözlənilməz xəta baş verdi. Məlumatlarınız itməyib; bir qədər sonra yenidən cəhd edin."
    ),
}

# What a form field is called on the page, for errors shown away from the field itself.
FIELD_LABELS_AZ: dict[str, str] = {
    "username": N_("İstifadəçi adı"),
    "current_password": N_("İndiki parol"),
    "new_password": N_("Yeni parol"),
    "repeated_password": N_("Yeni parol (təkrar)"),
    "password": N_("Parol"),
    "totp_code": N_("Birdəfəlik kod"),
    "id_card": N_("Şəxsiyyət vəsiqəsinin seriya və nömrəsi"),
    "fin": N_("FİN kod"),
    "imei_1": N_("İMEİ kodu"),
    "imei_2": N_("İMEİ kodu 2"),
    "imei_3": N_("İMEİ kodu 3"),
    "imei_4": N_("İMEİ kodu 4"),
    "security_code": N_("Təhlükəsizlik kodu"),
    "phone": N_("Mobil telefon nömrəsi"),
    "card_type": N_("Kartın növü"),
    "code": N_("Bildirişin kodu"),
    "method": N_("Ödəniş növü"),
    "amount": N_("Alınan məbləğ"),
    "slip_reference": N_("Çekin əməliyyat nömrəsi"),
    "reason": N_("Ləğvin səbəbi"),
    "reference": N_("Əməliyyat nömrəsi"),
}

STATUS_AZ: dict[str, str] = {
    "created": N_("Ərizə yaradılıb, ödəniş gözlənilir"),
    "awaiting_payment": N_("Ödəniş gözlənilir"),
    "paid": N_("Ödənilib, reyestrə göndərilir"),
    "submitted": N_("Reyestrə göndərilib"),
    "registered": N_("Qeydiyyata alınıb"),
    "rejected": N_("İmtina edilib"),
    "expired": N_("Müddəti bitib (ödənilməyib)"),
    "cancelled": N_("Qeydiyyat məntəqəsində ləğv edilib"),
}

PAYMENT_METHODS_AZ: dict[str, str] = {
    "goldenpay": N_("Bank kartı (GoldenPay)"),
    "cash": N_("Nağd"),
    "card_terminal": N_("Kart terminalı"),
}

CHANNELS_AZ: dict[str, str] = {
    "online_anonymous": N_("Onlayn (girişsiz)"),
    "egov": N_("Onlayn (e-hökumət portalı)"),
    "counter": N_("Qeydiyyat məntəqəsi"),
}

REJECT_REASONS_AZ: dict[str, str] = {
    "imei_registered_to_other": N_("İMEİ kodu artıq başqa şəxsin adına qeydiyyatdadır"),
    "imei_blacklisted": N_("İMEİ kodu qara siyahıdadır"),
    "imei_invalid": N_("İMEİ kodu etibarsızdır"),
    "duplicate_payment": N_("Ərizə üçün ödəniş artıq edilib (təkrar ödəniş)"),
    "cancelled_at_point": N_("qeydiyyat məntəqəsində ləğv edildi"),
    "imei_taken_while_unpaid": N_(
        "ödəniş müddəti bitdikdən sonra edildi və İMEİ kodu bu arada başqa ərizə üzrə ödənilir"
    ),
}


# Staff roles and the pages the staff home page links to.
ROLES_AZ: dict[str, str] = {
    "counter_agent": N_("Qeydiyyat məntəqəsinin əməkdaşı"),
    "point_supervisor": N_("Qeydiyyat məntəqəsinin rəhbəri"),
    "back_office": N_("Reyestrin əməkdaşı (geri ödəmələr)"),
    "admin": N_("Administrator"),
}

STAFF_LINKS_AZ: dict[str, str] = {
    "counter": N_("Cihazın qeydiyyatı (kassa)"),
    "supervisor": N_("Məntəqənin idarə edilməsi"),
    "refunds": N_("Geri qaytarılacaq ödənişlər"),
}


UNKNOWN_ERROR = N_("Xəta baş verdi. Yenidən cəhd edin.")


def message(code: str, **params: object) -> str:
    """The sentence for an error code in the current language, parameters filled in."""
    template = gettext(AZ.get(code, UNKNOWN_ERROR))
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


def text(error: DomainError) -> str:
    """The sentence for a domain error in the current language."""
    return message(error.code, **error.params)


# The same mappings, read in the current language (for templates and SMS).
statuses = Translated(STATUS_AZ)
reject_reasons = Translated(REJECT_REASONS_AZ)
payment_methods = Translated(PAYMENT_METHODS_AZ)
channels = Translated(CHANNELS_AZ)
field_labels = Translated(FIELD_LABELS_AZ)
roles = Translated(ROLES_AZ)
staff_links = Translated(STAFF_LINKS_AZ)


# Operators' command line (English, for the engineers who run imports).
OPERATOR_EN: dict[str, str] = {
    "tac_file_unknown_format": (
        "{path}: neither the Osmocom CSV nor the GSMA pipe-separated format; "
        "name it with --format osmocom|gsma"
    ),
    "tac_file_bad_header": "{path}: the header is not the one this format has",
    "price_list_bad_header": "{path}: expected the header brand,model,market_value_usd,is_basic",
    "price_list_bad_row": "line {line}: not a valid price row",
    # registration points and staff accounts (mcqs points / mcqs staff)
    "point_code_malformed": "the point's code must be 1 to 32 characters",
    "point_code_taken": "a registration point with this code exists already",
    "point_operator_required": "an operator shop needs --operator (the operator's name)",
    "point_unknown": "no registration point has this code",
    "staff_username_malformed": "a username is 1 to 64 letters, digits, '.', '-' or '_'",
    "staff_password_too_short": "a password has at least 10 characters",
    "staff_username_taken": "an account with this username exists already",
    "staff_point_required": "counter agents and point supervisors need --point CODE",
    "staff_point_not_for_role": "back office and admin accounts belong to no point",
    "staff_account_unknown": "no staff account has this username",
}


def operator_text(error: DomainError) -> str:
    template = OPERATOR_EN.get(error.code, error.code)
    try:
        return template.format(**error.params)
    except (KeyError, IndexError):
        return f"{error.code} {error.params}"
