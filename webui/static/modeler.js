/* The manager's modeler: each model file of the page (one textarea per file, posted as it is)
   opens in bpmn-js (with the properties panel and the camunda extensions) or dmn-js, one tab
   per file. Every edit is written back into the file's textarea, so "検査", "下書きを保存" and
   "デプロイ" post the form as they would without JavaScript (htmx swaps the results in).

   Custom code only where the panel cannot help: the form key chosen from the forms that
   exist, the lane name from the known roles, and the lint results linked to the diagram. */
(function () {
  'use strict';

  var form = document.getElementById('model-form');
  if (!form || typeof BpmnJS === 'undefined' || typeof DmnJS === 'undefined') {
    return; // without the bundles the textareas remain: the page still works
  }
  var vocabulary = JSON.parse(document.getElementById('modeling-vocabulary').textContent);
  var files = document.getElementById('model-files');
  var panels = document.getElementById('properties-panel');
  var choices = document.getElementById('kasane-choices');
  var translate = window.KasaneModelerJa.translateModule;
  var SYNC_DELAY = 400;
  var editors = [];   // {name, kind, box, textarea, tab, canvas, panel, modeler, opened}
  var current = null;
  var dirty = false;
  var camunda = fetch(form.dataset.camunda).then(function (r) { return r.json(); });

  form.classList.add('model-form--enhanced');
  var tabs = document.createElement('div');
  tabs.className = 'model-tabs';
  tabs.setAttribute('role', 'tablist');
  tabs.setAttribute('aria-label', 'モデルのファイル');
  files.before(tabs);
  var status = document.createElement('p');
  status.className = 'model-status';
  status.setAttribute('role', 'status');
  files.before(status);

  Array.prototype.forEach.call(files.querySelectorAll('.model-file'), addEditor);
  if (editors.length) {
    show(editors[0]);
  } else {
    status.textContent = '「ファイルを開く」で BPMN / DMN のファイルを選んでください。';
  }

  // --- files and tabs ------------------------------------------------------------------

  function kindOf(name) {
    return /\.dmn$/i.test(name) ? 'dmn' : 'bpmn';
  }

  function addEditor(box) {
    var name = box.dataset.file;
    var editor = {
      name: name, kind: kindOf(name), box: box, textarea: box.querySelector('textarea'),
      tab: document.createElement('button'), canvas: document.createElement('div'),
      panel: document.createElement('div'), modeler: null, opened: null
    };
    var index = editors.length + 1;
    editor.tab.type = 'button';
    editor.tab.className = 'model-tab';
    editor.tab.id = 'model-tab-' + index;
    editor.tab.textContent = name;
    editor.tab.setAttribute('role', 'tab');
    editor.tab.setAttribute('aria-controls', 'model-canvas-' + index);
    editor.tab.addEventListener('click', function () { show(editor); });
    editor.tab.addEventListener('keydown', moveBetweenTabs);
    tabs.appendChild(editor.tab);
    editor.canvas.id = 'model-canvas-' + index;
    editor.canvas.className = 'model-canvas model-canvas--' + editor.kind;
    editor.canvas.setAttribute('role', 'tabpanel');
    editor.canvas.setAttribute('aria-labelledby', editor.tab.id);
    editor.canvas.hidden = true;
    editor.canvas.tabIndex = 0;
    box.before(editor.canvas);
    editor.panel.hidden = true;
    panels.appendChild(editor.panel);
    editors.push(editor);
    return editor;
  }

  function moveBetweenTabs(event) {
    var step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) {
      return;
    }
    var index = editors.findIndex(function (e) { return e.tab === event.target; });
    var next = editors[(index + step + editors.length) % editors.length];
    show(next);
    next.tab.focus();
  }

  function show(editor) {
    editors.forEach(function (other) {
      var active = other === editor;
      other.tab.setAttribute('aria-selected', String(active));
      other.tab.tabIndex = active ? 0 : -1;
      other.canvas.hidden = !active;
      other.panel.hidden = !active || other.kind !== 'bpmn';
      other.box.classList.toggle('model-file--shown', Boolean(active && other.failed));
    });
    if (current !== editor && editor.opened) {
      status.textContent = editor.name + ' を表示しています。';
    }
    current = editor;
    choices.hidden = true;
    panels.hidden = editor.kind !== 'bpmn';  // decision tables are edited in place
    return open(editor).then(function () {
      if (editor.modeler && editor.kind === 'bpmn') {
        editor.modeler.get('canvas').resized();
      }
      return editor;
    });
  }

  /* A file opens the first time its tab is shown: a hidden canvas has no size to fit. */
  function open(editor) {
    if (!editor.opened) {
      editor.opened = (editor.kind === 'dmn' ? openDmn(editor) : openBpmn(editor)).then(function (warnings) {
        editor.failed = false;
        status.textContent = editor.name + ' を開きました' +
          (warnings ? '（読み込みの警告 ' + warnings + ' 件: 図にない参照などは無視しました）' : '') + '。';
      }, function (error) {
        editor.failed = true;
        editor.box.classList.add('model-file--shown');
        status.textContent = editor.name + ' は図として開けませんでした（' + (error.message || error) +
          '）。下のテキストのまま直せます。「検査」で問題の場所がわかります。';
      });
    }
    return editor.opened;
  }

  function openBpmn(editor) {
    return camunda.then(function (camundaModdle) {
      var panel = window.BpmnJSPropertiesPanel;
      editor.modeler = new BpmnJS({
        container: editor.canvas,
        propertiesPanel: { parent: editor.panel },
        moddleExtensions: { camunda: camundaModdle },
        debounceInput: false,  // every keystroke reaches the XML before a button is pressed
        keyboard: { bindTo: editor.canvas },  // shortcuts (Ctrl+F 検索, Ctrl+Z) while it has focus
        additionalModules: [panel.BpmnPropertiesPanelModule, panel.BpmnPropertiesProviderModule,
                            panel.CamundaPlatformPropertiesProviderModule, translate]
      });
      return editor.modeler.importXML(editor.textarea.value);
    }).then(function (result) {
      var modeler = editor.modeler;
      readable(modeler.get('canvas'));
      modeler.on('commandStack.changed', function () { changed(editor); });
      modeler.on('selection.changed', function (event) { offerChoices(editor, event.newSelection); });
      modeler.on('elements.changed', function () {
        offerChoices(editor, modeler.get('selection').get());
      });
      return result.warnings.length;
    });
  }

  /* The whole diagram if it is readable so, else its left part (where it starts), at a
     size where names can be read. */
  function readable(canvas) {
    var MIN_SCALE = 0.6;
    if (canvas.zoom('fit-viewport') >= MIN_SCALE) {
      return;
    }
    var box = canvas.viewbox();
    canvas.viewbox({ x: box.inner.x - 20, y: box.inner.y - 20,
                     width: box.outer.width / MIN_SCALE, height: box.outer.height / MIN_SCALE });
  }

  function openDmn(editor) {
    // dmn-js gives each view the common options, but a view's own additionalModules
    // replace the common ones: the translation goes to each view.
    var ownModules = { additionalModules: [translate] };
    editor.modeler = new DmnJS({
      container: editor.canvas,
      common: { debounceInput: false },
      drd: ownModules, decisionTable: ownModules, literalExpression: ownModules, boxedExpression: ownModules
    });
    editor.modeler.on('views.changed', function () {
      var viewer = editor.modeler.getActiveViewer();
      if (viewer && !viewer.kasaneWatched) {
        viewer.kasaneWatched = true;
        viewer.get('eventBus').on('commandStack.changed', function () { changed(editor); });
      }
    });
    return editor.modeler.importXML(editor.textarea.value).then(function (result) {
      // One decision per file: open its table rather than the decision diagram.
      var table = editor.modeler.getViews().find(function (v) { return v.type === 'decisionTable'; });
      return (table ? editor.modeler.open(table) : Promise.resolve()).then(function () {
        return result.warnings.length;
      });
    });
  }

  // --- edits back into the form --------------------------------------------------------

  function changed(editor) {
    dirty = true;
    clearTimeout(editor.timer);
    editor.timer = setTimeout(function () { write(editor); }, SYNC_DELAY);
  }

  function write(editor) {
    clearTimeout(editor.timer);
    if (!editor.modeler || editor.failed) {
      return Promise.resolve();
    }
    return editor.modeler.saveXML({ format: true }).then(function (result) {
      editor.textarea.value = result.xml;
    }, function (error) {
      // The text stays as it was: lint then says what is wrong with it.
      status.textContent = editor.name + ' の図を XML にできませんでした（' + (error.message || error) +
        '）。最後に保存できた内容を送ります。';
    });
  }

  function writeAll() {
    return Promise.all(editors.map(function (e) { return e.opened ? e.opened.then(function () { return write(e); }) : null; }));
  }

  // htmx collects the form after this event: hold the request until every editor's XML
  // is in its textarea.
  form.addEventListener('htmx:confirm', function (event) {
    event.preventDefault();
    writeAll().then(function () { event.detail.issueRequest(true); });
  });
  // A deploy that worked, or a saved draft, leaves nothing unsaved.
  form.addEventListener('htmx:beforeOnLoad', function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status < 300 && (xhr.getResponseHeader('HX-Redirect') || /\/draft$/.test(event.detail.pathInfo.requestPath))) {
      dirty = false;
    }
  });
  // A boosted link or form elsewhere (the header) would swap the page without unloading
  // it: with unsaved edits, leave for real, so that the browser asks first.
  document.addEventListener('htmx:confirm', function (event) {
    var elt = event.detail.elt;
    if (!dirty || form.contains(elt)) {
      return;
    }
    event.preventDefault();
    if (elt.tagName === 'FORM') {
      HTMLFormElement.prototype.submit.call(elt);
    } else {
      window.location.assign(event.detail.path);
    }
  });
  window.addEventListener('beforeunload', function (event) {
    if (dirty) {
      event.preventDefault();
      event.returnValue = '';
    }
  });

  // Files opened from the computer join the form as textareas of their own.
  var upload = document.getElementById('model-upload');
  upload.addEventListener('change', function () {
    var chosen = Array.prototype.slice.call(upload.files);
    Promise.all(chosen.map(function (file) {
      return file.text().then(function (text) { return { name: file.name, text: text }; });
    })).then(function (read) {
      var last = null;
      read.forEach(function (file) {
        if (!/\.(bpmn|dmn)$/i.test(file.name)) {
          status.textContent = file.name + ' は開けません（.bpmn か .dmn のファイルを選んでください）。';
          return;
        }
        last = replaceFile(file.name, file.text);
      });
      upload.value = '';
      dirty = dirty || Boolean(last);
      if (last) {
        show(last);
      }
    });
  });

  function replaceFile(name, text) {
    var existing = editors.find(function (e) { return e.name === name; });
    if (existing) {
      existing.textarea.value = text;
      if (existing.modeler) {
        existing.modeler.destroy();
      }
      existing.canvas.replaceChildren();
      existing.panel.replaceChildren();
      existing.modeler = null;
      existing.opened = null;
      return existing;
    }
    var box = document.createElement('div');
    box.className = 'model-file';
    box.dataset.file = name;
    var id = 'model-file-new-' + (editors.length + 1);
    var label = fieldLabel(id, name);
    var textarea = document.createElement('textarea');
    textarea.className = 'input model-file__text';
    textarea.id = id;
    textarea.name = 'file:' + name;
    textarea.rows = 16;
    textarea.value = text;
    box.append(label, textarea);
    files.appendChild(box);
    return addEditor(box);
  }

  // --- the form key and the lane's role, chosen from lists -------------------------------

  function offerChoices(editor, selection) {
    var body = choices.querySelector('.kasane-choices__body');
    var element = selection.length === 1 ? selection[0] : null;
    var type = element && element.type;
    if (editor !== current || (type !== 'bpmn:UserTask' && type !== 'bpmn:Lane')) {
      choices.hidden = true;
      return;
    }
    var bo = element.businessObject;
    var focused = document.activeElement && document.activeElement.closest('.kasane-choices');
    if (type === 'bpmn:UserTask') {
      body.replaceChildren(choice('kasane-form-key', 'フォーム', bo.get('camunda:formKey') || '',
        [['', '（フォームなし: JSON をそのまま受け付けます）']].concat(Object.keys(vocabulary.forms).map(function (key) {
          var title = vocabulary.forms[key];
          return [key, title && title !== key ? key + '（' + title + '）' : key];
        })), 'フォームがありません', function (value) {
          editor.modeler.get('modeling').updateProperties(element, { 'camunda:formKey': value || undefined });
        }));
    } else {
      body.replaceChildren(choice('kasane-lane-role', '役割（レーン名）', bo.name || '',
        vocabulary.roles.map(function (role) { return [role, role]; }), 'どの版にもない役割',
        function (value) {
          editor.modeler.get('modeling').updateLabel(element, value);
        }));
    }
    choices.hidden = false;
    if (focused) {
      body.querySelector('select').focus();
    }
  }

  function fieldLabel(id, text) {
    var label = document.createElement('label');
    label.className = 'field__label';
    label.htmlFor = id;
    label.textContent = text;
    return label;
  }

  function choice(id, label, value, options, unknown, apply) {
    var wrap = document.createElement('p');
    wrap.className = 'field';
    var labelElement = fieldLabel(id, label);
    var select = document.createElement('select');
    select.className = 'input input--select';
    select.id = id;
    if (value && !options.some(function (o) { return o[0] === value; })) {
      options = [[value, value + '（' + unknown + '）']].concat(options);
    }
    options.forEach(function (option) {
      select.add(new Option(option[1], option[0], false, option[0] === value));
    });
    select.addEventListener('change', function () { apply(select.value); });
    wrap.append(labelElement, select);
    return wrap;
  }

  // --- lint results linked to the diagram -----------------------------------------------

  var results = document.getElementById('model-results-body');
  results.addEventListener('click', function (event) {
    var button = event.target.closest('.model-issue__show');
    if (button) {
      var item = button.closest('.model-issue');
      point(item.dataset.file, item.dataset.element);
    }
  });
  document.body.addEventListener('htmx:afterSwap', function (event) {
    if (event.detail.target === results) {
      linkIssues(true);
    }
  });
  linkIssues(false);

  /* Each listed element becomes a button that shows it; every listed element is marked in
     its diagram; after a refusal the first problem is shown at once. */
  function linkIssues(showFirst) {
    editors.forEach(clearMarks);
    var items = Array.prototype.slice.call(results.querySelectorAll('.model-issue'));
    var marking = items.map(function (item) {
      var editor = editors.find(function (e) { return e.name === item.dataset.file; });
      var code = item.querySelector('.model-issue__element');
      if (!editor || !code) {
        return null;
      }
      var button = document.createElement('button');
      button.type = 'button';
      button.className = 'link-button model-issue__show';
      button.textContent = code.textContent;
      button.setAttribute('aria-label', '図で示す: ' + code.textContent);
      code.replaceWith(button);
      return editor.opened ? editor.opened.then(function () { mark(editor, item.dataset.element, item.dataset.kind); }) : null;
    });
    var first = items.find(function (i) { return i.dataset.kind === 'problem' && i.querySelector('.model-issue__show'); });
    if (showFirst && first) {
      Promise.all(marking).then(function () { point(first.dataset.file, first.dataset.element); });
    }
  }

  function diagramElement(editor, id) {
    var registry = editor.modeler.get('elementRegistry');
    // A process in a collaboration is drawn as its pool.
    return registry.get(id) || registry.find(function (e) {
      return e.type === 'bpmn:Participant' && e.businessObject.processRef && e.businessObject.processRef.id === id;
    });
  }

  function mark(editor, id, kind) {
    if (!editor.modeler || editor.failed) {
      return;
    }
    var className = kind === 'problem' ? 'kasane-problem' : 'kasane-warning';
    if (editor.kind === 'bpmn') {
      var element = diagramElement(editor, id);
      if (element) {
        editor.modeler.get('canvas').addMarker(element, className);
        (editor.marked = editor.marked || []).push([element, className]);
      }
    } else {
      tableCells(editor, id).forEach(function (cell) { cell.classList.add(className); });
    }
  }

  function clearMarks(editor) {
    (editor.marked || []).forEach(function (pair) {
      editor.modeler.get('canvas').removeMarker(pair[0], pair[1]);
    });
    editor.marked = [];
    editor.canvas.querySelectorAll('.kasane-problem, .kasane-warning').forEach(function (cell) {
      cell.classList.remove('kasane-problem', 'kasane-warning');
    });
  }

  function tableCells(editor, id) {
    var escaped = CSS.escape(id);
    return Array.prototype.slice.call(editor.canvas.querySelectorAll(
      '[data-element-id="' + escaped + '"], [data-col-id="' + escaped + '"], [data-row-id="' + escaped + '"]'));
  }

  /* Show an element: its file's tab, the element selected, scrolled to and highlighted. */
  function point(file, id) {
    var editor = editors.find(function (e) { return e.name === file; });
    if (!editor) {
      return;
    }
    show(editor).then(function () {
      if (!editor.modeler || editor.failed) {
        return;
      }
      if (editor.kind === 'bpmn') {
        return onItsDiagram(editor, id).then(function (element) { selectElement(editor, element, id); });
      }
      var cells = tableCells(editor, id);
      cells.forEach(function (cell) { cell.classList.add('kasane-problem'); });
      if (cells.length) {
        cells[0].scrollIntoView({ block: 'center' });
      }
      status.textContent = '要素 ' + id + ' を示しました。';
    });
  }

  /* The element in the diagram shown, or else the file's diagram that draws it (a file
     from another tool may hold several). */
  function onItsDiagram(editor, id) {
    var element = diagramElement(editor, id);
    if (element) {
      return Promise.resolve(element);
    }
    var diagram = (editor.modeler.getDefinitions().diagrams || []).find(function (d) {
      return (d.plane.planeElement || []).some(function (shape) {
        return shape.bpmnElement && shape.bpmnElement.id === id;
      });
    });
    if (!diagram) {
      return Promise.resolve(null);
    }
    return editor.modeler.open(diagram).then(function () {
      editor.marked = [];
      return diagramElement(editor, id);
    });
  }

  function selectElement(editor, element, id) {
    if (!element) {
      status.textContent = '要素 ' + id + ' は図に描かれていません。';
      return;
    }
    editor.modeler.get('canvas').addMarker(element, 'kasane-problem');
    (editor.marked = editor.marked || []).push([element, 'kasane-problem']);
    editor.modeler.get('selection').select(element);
    editor.modeler.get('canvas').scrollToElement(element);
    status.textContent = '要素 ' + (element.businessObject.name || id) + '（' + id + '）を選びました。';
  }
})();
