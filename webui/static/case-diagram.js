/* The case page's live diagram: the case's own pathway version in a read-only bpmn-js
   viewer, with what the case finished, its current tasks, and the events and dates it
   waits for marked. Clicking a current task opens its form, a finished one its record.

   An enhancement only: the lists on the page say the same, and without JavaScript (or if
   anything here fails) the section stays hidden. A file, as the CSP allows no inline
   script; after a boosted htmx navigation htmx runs it again for the new page. */
(function () {
  'use strict';

  var section = document.getElementById('case-diagram');
  if (!section || section.dataset.started || typeof window.BpmnJS !== 'function') {
    return;
  }
  section.dataset.started = 'yes';

  fetch(section.dataset.url, { headers: { Accept: 'application/json' } })
    .then(function (response) {
      return response.ok ? response.json() : Promise.reject(new Error(String(response.status)));
    })
    .then(start)
    .catch(function () { section.hidden = true; });

  function start(state) {
    var viewer = new window.BpmnJS({ container: section.querySelector('[data-role=canvas]') });
    var tabs = section.querySelector('[data-role=tabs]');
    var links = Object.assign({}, state.records);
    state.current.forEach(function (task) { links[task.element] = task.url; });
    viewer.get('eventBus').on('element.click', function (event) {
      var url = links[event.element.id];
      if (url) {
        window.location.assign(url);
      }
    });

    function show(index) {
      section.hidden = false;  // the viewer measures its container: it must be laid out
      return viewer.importXML(state.diagrams[index].xml).then(function () {
        mark(viewer, state, links);
        Array.prototype.forEach.call(tabs.children, function (button, i) {
          button.setAttribute('aria-pressed', String(i === index));
        });
      });
    }

    if (state.diagrams.length > 1) {  // the processes the case called, each its own diagram
      state.diagrams.forEach(function (diagram, index) {
        var button = document.createElement('button');
        button.type = 'button';
        button.className = 'button button--quiet';
        button.textContent = diagram.name;
        button.addEventListener('click', function () { show(index); });
        tabs.append(button);
      });
    }
    return show(0);
  }

  function mark(viewer, state, links) {
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    var overlays = viewer.get('overlays');
    var here = function (id) { return Boolean(registry.get(id)); };
    var current = state.current.filter(function (task) { return here(task.element); });
    var now = current.map(function (task) { return task.element; });

    state.done.filter(here).forEach(function (id) {
      if (now.indexOf(id) < 0) { canvas.addMarker(id, 'case-done'); }
    });
    state.waiting.filter(here).forEach(function (id) { canvas.addMarker(id, 'case-waiting'); });
    Object.keys(links).filter(here).forEach(function (id) { canvas.addMarker(id, 'case-link'); });
    state.timers.filter(function (timer) { return here(timer.element); }).forEach(function (timer) {
      canvas.addMarker(timer.element, 'case-timer');
      overlays.add(timer.element, { position: { bottom: -4, left: -24 },
                                    html: badge('span', 'diagram-badge--timer', timer.label) });
    });
    current.forEach(function (task) {
      canvas.addMarker(task.element, 'case-current');
      var text = '対応中: ' + task.name + (task.due ? '（期限 ' + task.due + '）' : '');
      var link = badge('a', 'diagram-badge--current', text);
      link.href = task.url;
      overlays.add(task.element, { position: { top: -30, left: 0 }, html: link });
    });
    centre(canvas, now.length ? registry.get(now[0]) : null);
  }

  function badge(tag, kind, text) {
    var element = document.createElement(tag);
    element.className = 'diagram-badge ' + kind;
    element.textContent = text;
    return element;
  }

  // The whole pathway is too wide to read at once: show the current task at a readable size.
  function centre(canvas, element) {
    canvas.zoom('fit-viewport');
    var box = canvas.viewbox();
    if (!element || box.scale >= 0.8) {
      return;
    }
    var width = box.outer.width / 0.8;
    var height = box.outer.height / 0.8;
    canvas.viewbox({ x: element.x + element.width / 2 - width / 2,
                     y: element.y + element.height / 2 - height / 2,
                     width: width, height: height });
  }
}());
