from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """?page=N&page_size=M, 50 per page by default, at most 500.

    A page_size that is not a whole number from 1 to 500 is refused (400) rather than
    silently replaced by the default: the client asked for something it will not get.
    The same for a page that is not a whole number from 1; a page past the end is a 404.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request) -> int:
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        message = f"Must be a whole number from 1 to {self.max_page_size}."
        if len(values) > 1:
            raise ValidationError({self.page_size_query_param: ["Give it once. " + message]})
        try:
            size = int(values[0])
        except ValueError:
            raise ValidationError({self.page_size_query_param: [message]}) from None
        if not 1 <= size <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [message]})
        return size

    def get_page_number(self, request, paginator) -> int:
        values = request.query_params.getlist(self.page_query_param)
        if not values:
            return 1
        if len(values) > 1 or not values[0].isdigit() or int(values[0]) < 1:
            raise ValidationError({self.page_query_param: ["Must be a whole number from 1."]})
        return int(values[0])

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size, default=50)
        return parameters
