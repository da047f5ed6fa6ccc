"""The synthetic citizens the population-registry simulator knows.

Fixed data, not generated: tests, the README and demo users rely on the same people.
Every person here is invented. The first three are the ones to remember:

1. ``5ABC1D2`` / ``AA1234567`` — a card of the 2016 format, valid;
2. ``6DEF2G3`` / ``AZE12345678`` — an older card, valid;
3. ``7HJK3L4`` / ``AA7654321`` — a card that has expired.

FİNs avoid the letters I and O, as real ones do (they read like 1 and 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Citizen:
    fin: str
    surname: str
    name: str
    patronymic: str
    address: str
    id_card_series: str  # "AA" (cards since 2016) or "AZE" (older cards)
    id_card_number: str  # 7 digits after "AA", 8 after "AZE"
    id_card_valid_until: date

    @property
    def id_card(self) -> str:
        """The card's document number as printed and typed: series and number together."""
        return self.id_card_series + self.id_card_number

    @property
    def full_name(self) -> str:
        return f"{self.surname} {self.name} {self.patronymic}"


CITIZENS: tuple[Citizen, ...] = (
    Citizen(
        "5ABC1D2", "Məmmədov", "Elvin", "Rəşid oğlu",
        "Bakı şəhəri, Nəsimi rayonu, Azadlıq prospekti, ev 45, mənzil 12",
        "AA", "1234567", date(2031, 5, 14),
    ),
    Citizen(
        "6DEF2G3", "Əliyeva", "Aynur", "Elçin qızı",
        "Gəncə şəhəri, Kəpəz rayonu, Atatürk prospekti, ev 12, mənzil 7",
        "AZE", "12345678", date(2032, 9, 30),
    ),
    Citizen(
        "7HJK3L4", "Hüseynov", "Rəşad", "Vaqif oğlu",
        "Sumqayıt şəhəri, 9-cu mikrorayon, Sülh küçəsi, ev 23, mənzil 41",
        "AA", "7654321", date(2020, 3, 1),
    ),
    Citizen(
        "2MN8P4R", "Həsənova", "Günel", "Tofiq qızı",
        "Bakı şəhəri, Yasamal rayonu, Şərifzadə küçəsi, ev 118, mənzil 33",
        "AA", "2839104", date(2033, 2, 17),
    ),
    Citizen(
        "3TV5W9X", "Quliyev", "Tural", "Ramiz oğlu",
        "Lənkəran şəhəri, Həzi Aslanov küçəsi, ev 8",
        "AA", "3094851", date(2031, 11, 2),
    ),
    Citizen(
        "4YZ2A6B", "İsmayılova", "Leyla", "Şahin qızı",
        "Şəki şəhəri, Məhəmməd Əmin Rəsulzadə prospekti, ev 15, mənzil 3",
        "AZE", "09876543", date(2031, 12, 31),
    ),
    Citizen(
        "8CD4E7F", "Abbasov", "Orxan", "Əli oğlu",
        "Mingəçevir şəhəri, Heydər Əliyev prospekti, ev 30, mənzil 5",
        "AA", "4410927", date(2034, 6, 8),
    ),
    Citizen(
        "9GH6J1K", "Cəfərova", "Səbinə", "Namiq qızı",
        "Bakı şəhəri, Nərimanov rayonu, Təbriz küçəsi, ev 76, mənzil 19",
        "AA", "5187203", date(2033, 4, 21),
    ),
    Citizen(
        "1LM7N3P", "Rzayev", "Nicat", "Rövşən oğlu",
        "Bakı şəhəri, Xətai rayonu, Babək prospekti, ev 52, mənzil 88",
        "AA", "6023718", date(2032, 1, 19),
    ),
    Citizen(
        "2RS9T5U", "Babayeva", "Nərgiz", "İlham qızı",
        "Şirvan şəhəri, Nizami küçəsi, ev 4, mənzil 10",
        "AZE", "15432987", date(2031, 7, 3),
    ),
    Citizen(
        "3VW1X8Y", "Səfərov", "Fərid", "Zakir oğlu",
        "Bakı şəhəri, Səbail rayonu, Neftçilər prospekti, ev 91, mənzil 6",
        "AA", "7301946", date(2035, 10, 12),
    ),
    Citizen(
        "4ZA3B2C", "Kərimova", "Ülviyyə", "Mübariz qızı",
        "Quba şəhəri, Heydər Əliyev prospekti, ev 61",
        "AA", "8156032", date(2034, 3, 27),
    ),
    Citizen(
        "5DE5F9G", "Nəsirov", "Kamran", "Elşad oğlu",
        "Naxçıvan şəhəri, Atatürk küçəsi, ev 27, mənzil 14",
        "AZE", "20468135", date(2032, 8, 9),
    ),
    Citizen(
        "6HJ7K3L", "Qasımova", "Könül", "Arif qızı",
        "Bakı şəhəri, Binəqədi rayonu, Cəlil Məmmədquluzadə küçəsi, ev 102, mənzil 57",
        "AA", "9027465", date(2033, 12, 1),
    ),
    Citizen(
        "7MN9P6R", "Vəliyev", "Vüsal", "Fikrət oğlu",
        "Xaçmaz şəhəri, Nəriman Nərimanov küçəsi, ev 19",
        "AA", "1538290", date(2031, 2, 28),
    ),
    Citizen(
        "8ST2V4W", "Orucova", "Şəbnəm", "Yaşar qızı",
        "Bakı şəhəri, Nizami rayonu, Qara Qarayev prospekti, ev 37, mənzil 120",
        "AA", "2647381", date(2035, 5, 5),
    ),
    Citizen(
        "9XY4Z7A", "Mustafayev", "Ramil", "Qədir oğlu",
        "Gəncə şəhəri, Nizami rayonu, Cavadxan küçəsi, ev 5, mənzil 22",
        "AZE", "31975024", date(2019, 8, 15),
    ),
    Citizen(
        "1BC6D8E", "Əhmədova", "Fidan", "Tahir qızı",
        "Bakı şəhəri, Sabunçu rayonu, Bakıxanov qəsəbəsi, Süleyman Sani Axundov küçəsi, ev 14, "
        "mənzil 2",
        "AA", "3760519", date(2032, 10, 16),
    ),
    Citizen(
        "2FG8H1J", "Sultanov", "İlkin", "Məhərrəm oğlu",
        "Masallı şəhəri, Nizami küçəsi, ev 44",
        "AA", "4879136", date(2034, 9, 13),
    ),
    Citizen(
        "3KL1M4N", "Nağıyeva", "Türkan", "Elxan qızı",
        "Bakı şəhəri, Xəzər rayonu, Mərdəkan qəsəbəsi, Sergey Yesenin küçəsi, ev 3",
        "AA", "5912647", date(2033, 7, 25),
    ),
    Citizen(
        "4PR3S6T", "Bağırov", "Toğrul", "Rəhim oğlu",
        "Göyçay şəhəri, Nizami küçəsi, ev 21",
        "AZE", "42086713", date(2031, 4, 4),
    ),
    Citizen(
        "5UV5W8X", "Şükürova", "Aygün", "Vidadi qızı",
        "Bakı şəhəri, Suraxanı rayonu, Hövsan qəsəbəsi, Ələsgər Qayıbov küçəsi, ev 17",
        "AA", "6084253", date(2035, 1, 30),
    ),
    Citizen(
        "6YZ7A1B", "Çələbiyev", "Müşfiq", "Sabir oğlu",
        "Bakı şəhəri, Nəsimi rayonu, Füzuli küçəsi, ev 63, mənzil 25",
        "AA", "7195864", date(2034, 11, 11),
    ),
    Citizen(
        "7CD9E3F", "Hüseynova", "Sevinc", "Akif qızı",
        "Şamaxı şəhəri, Səməd Vurğun küçəsi, ev 11",
        "AA", "8203975", date(2032, 6, 18),
    ),
    Citizen(
        "8GH2J5K", "Məmmədova", "Xədicə", "Oqtay qızı",
        "Bakı şəhəri, Yasamal rayonu, Hüseyn Cavid prospekti, ev 25, mənzil 48",
        "AZE", "53197248", date(2031, 9, 9),
    ),
    Citizen(
        "9LM4N7P", "Əliyev", "Ceyhun", "Ənvər oğlu",
        "Sumqayıt şəhəri, 17-ci mikrorayon, Səməd Vurğun küçəsi, ev 8, mənzil 64",
        "AA", "9316047", date(2033, 3, 3),
    ),
)  # fmt: skip
